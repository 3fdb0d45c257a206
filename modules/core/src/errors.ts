// Errors thrown by @weft/core. Each carries a `kind` named like the appliance's domain errors, so its one
// exception filter can map them without this package depending on the appliance.

export type CoreErrorKind = 'invalid-argument' | 'not-found' | 'conflict' | 'unavailable';

export abstract class CoreError extends Error {
  abstract readonly kind: CoreErrorKind;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class InvalidArgumentError extends CoreError {
  readonly kind = 'invalid-argument';
}

export class InterfaceNotFoundError extends CoreError {
  readonly kind = 'not-found';
  constructor(readonly interfaceName: string) {
    super(`no interface named "${interfaceName}"`);
  }
}

/** The adapter was closed while a call was pending or after it. */
export class AdapterClosedError extends CoreError {
  readonly kind = 'unavailable';
  constructor(what: string) {
    super(`${what}: the netlink adapter is closed`);
  }
}

/** The kernel refused a request; `code` is the errno name (`EEXIST`, `ESRCH`, `ENETUNREACH`…). */
export class KernelError extends CoreError {
  readonly kind: CoreErrorKind;
  constructor(
    message: string,
    readonly code: string,
    options?: ErrorOptions,
  ) {
    super(`${message}: ${code}`, options);
    this.kind = kernelErrorKind(code);
  }
}

function kernelErrorKind(code: string): CoreErrorKind {
  switch (code) {
    case 'EEXIST':
      return 'conflict';
    case 'ENOENT':
    case 'ESRCH':
    case 'ENODEV':
      return 'not-found';
    case 'EINVAL':
    case 'ERANGE':
    case 'EAFNOSUPPORT':
    case 'ENETUNREACH':
      return 'invalid-argument';
    default:
      return 'unavailable';
  }
}

/** The KernelError among `err` and its causes, if it has one of `codes` (any code when none given). */
export function findKernelError(err: unknown, ...codes: string[]): KernelError | undefined {
  for (let cur: unknown = err, depth = 0; cur instanceof Error && depth < 8; cur = cur.cause, depth++) {
    if (cur instanceof KernelError && (codes.length === 0 || codes.includes(cur.code))) return cur;
  }
  return undefined;
}

/** A helper command (`ip`, `wg`, `swanctl`) failed. Carries its exit code and stderr (never its stdin). */
export class CommandError extends CoreError {
  readonly kind = 'unavailable';
  constructor(
    readonly command: string,
    readonly exitCode: number | null,
    readonly stderr: string,
    options?: ErrorOptions,
  ) {
    super(`${command} failed (exit ${exitCode ?? 'signal'}): ${stderr.trim() || 'no output'}`, options);
  }
}
