/** Stands in for a request body that did not parse, so validation can report it with the rest. */
export class InvalidJsonBody {
  constructor(readonly reason: string) {}
}
