// Where private-run.sh lives, for integration specs and benchmarks that run a real charon: tsc copies no
// shell scripts, so the path points from dist/ back into src/.
import { fileURLToPath } from 'node:url';

/** Absolute path of `src/charon/testing/private-run.sh` (mounts a tmpfs on /run, then execs its arguments). */
export const PRIVATE_RUN_SCRIPT = fileURLToPath(
  new URL('../../../src/charon/testing/private-run.sh', import.meta.url),
);

/**
 * A `launcher` for CharonSupervisor (or an argv prefix for charon by hand) giving each charon a /run of
 * its own, so its compiled-in /run/charon.pid never meets another's. argv only, never a shell string.
 */
export const PRIVATE_RUN_LAUNCHER: readonly string[] = [
  'unshare',
  '--mount',
  '--propagation',
  'private',
  '--',
  'bash',
  PRIVATE_RUN_SCRIPT,
];
