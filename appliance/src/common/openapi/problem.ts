// RFC 9457 problem details, and the one problem the request validator produces.

/** One thing wrong with a request, located by a JSON pointer into it. */
export interface ProblemError {
  /**
   * Where: a body field (`/links/0/remote_subnets/1`), a query parameter (`/query/dry_run`), a path
   * parameter (`/path/name`) or a header (`/header/If-Match`). `''` is the body as a whole.
   */
  pointer: string;
  /** What is wrong and what is expected, for an operator. */
  message: string;
  /** The pointer of the other side of a conflict (an overlap, a duplicate). */
  related?: string;
}

/** RFC 9457 problem details (`application/problem+json`). Extension members are allowed. */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  errors?: ProblemError[];
  [extension: string]: unknown;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
export const VALIDATION_PROBLEM_TYPE = 'urn:weft:problem:validation';
export const VALIDATION_PROBLEM_TITLE = 'Request does not match the API schema';

/** Where a pointer lands, in words: the body as a whole is `(body)`. */
export function describePointer(pointer: string): string {
  return pointer === '' ? '(body)' : pointer;
}

/** One line for the problem's `detail`: how many problems, and the first one in full. */
export function summarizeErrors(errors: readonly ProblemError[]): string {
  const first = errors[0];
  if (!first) return 'the request does not match the API schema';
  const count = errors.length === 1 ? '1 problem' : `${errors.length} problems`;
  return `${count} in the request; first: ${describePointer(first.pointer)} ${first.message}`;
}

/** The 400 problem for a request that failed schema validation. */
export function validationProblem(errors: readonly ProblemError[], instance?: string): ProblemDetails {
  return {
    type: VALIDATION_PROBLEM_TYPE,
    title: VALIDATION_PROBLEM_TITLE,
    status: 400,
    detail: summarizeErrors(errors),
    ...(instance === undefined ? {} : { instance }),
    errors: errors.map((e) => ({ ...e })),
  };
}
