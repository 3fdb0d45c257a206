// Runs every command of an inner ProcessRunner inside a named network namespace (`ip netns exec`,
// which setns()es and then execs: the PID is the command's own). For tests and multi-site labs.
import type { ProcessHandle, ProcessRunner, RunOptions, SpawnOptions } from '@weft/core';

export class NetnsProcessRunner implements ProcessRunner {
  constructor(
    private readonly inner: ProcessRunner,
    readonly netns: string,
  ) {}

  spawn(file: string, args: readonly string[], options?: SpawnOptions): Promise<ProcessHandle> {
    return this.inner.spawn('ip', ['netns', 'exec', this.netns, file, ...args], options);
  }

  run(
    file: string,
    args: readonly string[],
    options?: RunOptions,
  ): Promise<{ stdout: string; stderr: string }> {
    return this.inner.run('ip', ['netns', 'exec', this.netns, file, ...args], options);
  }

  findExecutable(name: string): Promise<string | undefined> {
    return this.inner.findExecutable(name);
  }
}
