// Guaranteed cleanup: every live lab is torn down when the process exits, however it exits.
// - 'exit' (normal end, process.exit, uncaught exception, unhandled rejection): only synchronous code
//   runs there, so labs tear down with SIGKILL and synchronous `ip` calls;
// - SIGINT / SIGTERM: the orderly async teardown, then the signal is raised again so the exit status
//   says what happened. Labs created with handleSignals: false leave signals to their owner (the demo).

export interface Teardown {
  /** Orderly teardown (stop appliances, delete namespaces); idempotent. */
  destroy(): Promise<void>;
  /** Last-resort teardown usable inside the 'exit' handler; idempotent. */
  destroySync(): void;
  readonly handleSignals: boolean;
}

const live = new Set<Teardown>();
let exitHooked = false;
let signalsHooked = false;
let signalled = false;

export function registerTeardown(t: Teardown): void {
  live.add(t);
  syncListeners();
}

export function unregisterTeardown(t: Teardown): void {
  live.delete(t);
  syncListeners();
}

function onExit(): void {
  for (const t of [...live]) t.destroySync();
}

function onSignal(signal: NodeJS.Signals): void {
  const owned = [...live].filter((t) => t.handleSignals);
  if (signalled) {
    process.stderr.write(`weft-e2e: ${signal} again; still cleaning up the lab, please wait\n`);
    return;
  }
  signalled = true;
  process.stderr.write(`weft-e2e: ${signal}: cleaning up the lab\n`);
  void Promise.allSettled(owned.map((t) => t.destroy())).then((results) => {
    for (const r of results) {
      if (r.status === 'rejected') process.stderr.write(`weft-e2e: cleanup failed: ${String(r.reason)}\n`);
    }
    signalled = false;
    syncListeners();
    // Die of the signal, unless someone else listens for it and decides.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  });
}

/** Listens for 'exit' while any lab lives, and for signals while any lab handles them or one is ending. */
function syncListeners(): void {
  const wantExit = live.size > 0;
  const wantSignals = signalled || [...live].some((t) => t.handleSignals);
  if (wantExit !== exitHooked) {
    if (wantExit) process.on('exit', onExit);
    else process.off('exit', onExit);
    exitHooked = wantExit;
  }
  if (wantSignals !== signalsHooked) {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      if (wantSignals) process.on(signal, onSignal);
      else process.off(signal, onSignal);
    }
    signalsHooked = wantSignals;
  }
}
