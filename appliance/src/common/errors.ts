// Domain errors. Services throw these; one exception filter maps them to RFC 9457 problem+json.

export interface FieldProblem {
  /** JSON pointer into the request, e.g. `/links/0/remote_subnets/1`. */
  pointer: string;
  message: string;
  /** The pointer of the other side of a conflict (an overlap, a duplicate). */
  related?: string;
}

export abstract class DomainError extends Error {
  abstract readonly kind: string;
  constructor(
    message: string,
    readonly problems: FieldProblem[] = [],
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class InvalidArgumentError extends DomainError {
  readonly kind = 'invalid-argument';
}

/** The request matched the schema but `verify` found cross-field problems. */
export class VerifyFailedError extends DomainError {
  readonly kind = 'verify-failed';
}

export class NotFoundError extends DomainError {
  readonly kind = 'not-found';
}

export class ConflictError extends DomainError {
  readonly kind = 'conflict';
}

export class PreconditionFailedError extends DomainError {
  readonly kind = 'precondition-failed';
}

export class UnauthenticatedError extends DomainError {
  readonly kind = 'unauthenticated';
}

export class ForbiddenError extends DomainError {
  readonly kind = 'forbidden';
}

export class UnavailableError extends DomainError {
  readonly kind = 'unavailable';
}

/** An apply failed; the appliance rolled back to `rolledBackTo`. */
export class ApplyFailedError extends DomainError {
  readonly kind = 'apply-failed';
  constructor(
    message: string,
    readonly failedStep: string,
    readonly rolledBackTo: number | null,
    options?: ErrorOptions,
  ) {
    super(message, [], options);
  }
}

/** The message of an error and of each of its causes, joined: `add route … : RTNETLINK answers: …`. */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  let cur: unknown = err;
  for (let depth = 0; cur !== undefined && cur !== null && depth < 6; depth++) {
    parts.push(cur instanceof Error ? cur.message : typeof cur === 'string' ? cur : JSON.stringify(cur));
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return parts.join(': ');
}
