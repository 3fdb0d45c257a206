// Turns Ajv's errors into messages an operator can act on: each names the field by its JSON pointer
// and says what is expected, using the schema's own description and constraints.
import type { ErrorObject } from 'ajv/dist/2020.js';
import type { ProblemError } from './problem.js';
import { asArray, isObject, joinPointer, type JsonObject } from './schema-walk.js';

/** What the translator needs to know about the compiled schemas. */
export interface MessageContext {
  /** The schema a (possibly `$ref`) schema stands for. */
  deref(schema: unknown): JsonObject | undefined;
  /** True for a property the request schemas accept but drop (a `readOnly` one). */
  isDropped(schema: unknown): boolean;
  /** What an unknown key is called where this error was found: `field`, `query parameter`. */
  keyNoun: string;
}

/** A translated error, with the Ajv keyword kept for the clean-up pass. */
export interface TranslatedError extends ProblemError {
  keyword: string;
}

const MAX_SHOWN = 80;
const SECRET_NAME = /private|secret|password|preshared|psk|token/i;

/** Translates one Ajv error; undefined when the error only echoes another one (a knock-on). */
export function translateError(
  err: ErrorObject,
  prefix: string,
  ctx: MessageContext,
): TranslatedError | undefined {
  const at = prefix + err.instancePath;
  const schema = isObject(err.parentSchema) ? err.parentSchema : {};
  const params = err.params as Record<string, unknown>;
  const got = gotText(err.data, schema, at);
  const make = (pointer: string, message: string): TranslatedError => ({
    pointer,
    message,
    keyword: err.keyword,
  });

  switch (err.keyword) {
    case 'required': {
      const missing = String(params.missingProperty);
      return make(joinPointer(at, missing), 'is required');
    }
    case 'dependentRequired': {
      const missing = String(params.missingProperty);
      return make(joinPointer(at, missing), `is required when "${String(params.property)}" is set`);
    }
    case 'additionalProperties':
    case 'unevaluatedProperties': {
      const key = String(params.additionalProperty ?? params.unevaluatedProperty);
      const allowed = allowedKeys(schema, ctx);
      // Ajv drops what a failed `allOf` branch evaluated, so a known field next to an invalid one can
      // come back as "unevaluated": the invalid one is already reported.
      if (err.keyword === 'unevaluatedProperties' && allowed.includes(key)) return undefined;
      return make(joinPointer(at, key), unknownKeyMessage(key, allowed, ctx.keyNoun));
    }
    case 'type': {
      const types = Array.isArray(params.type) ? params.type.map(String) : String(params.type).split(',');
      return make(at, `must be ${typeNoun(types)}${rangeSuffix(schema, types)}${got}`);
    }
    case 'enum':
      return make(at, `must be one of: ${listValues(schema.enum)}${got}`);
    case 'const':
      return make(at, `must be ${showValue(schema.const)}${got}`);
    case 'pattern':
      return make(at, `${patternRule(schema)}${got}`);
    case 'format':
      return make(at, `must be ${formatNoun(String(params.format))}${got}`);
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum': {
      const types = typeof schema.type === 'string' ? [schema.type] : ['number'];
      return make(at, `must be ${typeNoun(types)}${rangeSuffix(schema, types)}${got}`);
    }
    case 'multipleOf':
      return make(at, `must be a multiple of ${String(params.multipleOf)}${got}`);
    case 'minLength':
    case 'maxLength': {
      const length = typeof err.data === 'string' ? [...err.data].length : undefined;
      return make(
        at,
        `${lengthRule(schema)}${length === undefined ? '' : ` (got ${plural(length, 'character')})`}`,
      );
    }
    case 'minItems':
    case 'maxItems': {
      const count = Array.isArray(err.data) ? err.data.length : undefined;
      const rule = countRule(schema.minItems, schema.maxItems, 'item');
      return make(at, `${rule}${count === undefined ? '' : ` (got ${count})`}`);
    }
    case 'minProperties':
    case 'maxProperties':
      return make(at, countRule(schema.minProperties, schema.maxProperties, 'field'));
    case 'uniqueItems':
      return make(
        at,
        `must not list the same value twice (items ${String(params.j)} and ${String(params.i)} are equal)`,
      );
    case 'discriminator':
      return discriminatorError(err, at, schema, params, ctx);
    case 'oneOf':
      return make(
        at,
        params.passingSchemas === null || params.passingSchemas === undefined
          ? 'does not match any of the allowed forms'
          : 'matches more than one of the allowed forms; make it match exactly one',
      );
    case 'anyOf':
      return make(at, 'does not match any of the allowed forms');
    case 'if':
    case 'contains':
      // The failing branch's own errors say what is wrong.
      return err.keyword === 'if' ? undefined : make(at, 'must contain at least one matching item');
    case 'not':
      return make(at, 'is not allowed in this form');
    case 'false schema':
      return make(at, 'is not allowed here');
    default:
      return make(at, err.message ?? 'is not valid');
  }
}

/**
 * Removes echoes and duplicates: a `type` error next to an `enum`/`const` error on the same value says
 * less than the enum one, so only the enum one stays.
 */
export function cleanUp(errors: readonly TranslatedError[]): ProblemError[] {
  const withChoices = new Set(
    errors.filter((e) => e.keyword === 'enum' || e.keyword === 'const').map((e) => e.pointer),
  );
  const seen = new Set<string>();
  const out: ProblemError[] = [];
  for (const e of errors) {
    if (e.keyword === 'type' && withChoices.has(e.pointer)) continue;
    const key = `${e.pointer}\u0000${e.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ pointer: e.pointer, message: e.message });
  }
  return out;
}

function discriminatorError(
  err: ErrorObject,
  at: string,
  schema: JsonObject,
  params: Record<string, unknown>,
  ctx: MessageContext,
): TranslatedError {
  const keyword = err.keyword;
  if (!isObject(err.data)) {
    return { pointer: at, message: `must be an object${gotText(err.data, {}, at)}`, keyword };
  }
  const tag = String(params.tag);
  const values = discriminatorValues(schema, tag, ctx);
  const pointer = joinPointer(at, tag);
  const choices = values.length > 0 ? values.join(', ') : 'a known type';
  if (params.tagValue === undefined) return { pointer, message: `is required (one of: ${choices})`, keyword };
  return { pointer, message: `must be one of: ${choices}${gotText(params.tagValue, {}, pointer)}`, keyword };
}

/** The tag values a discriminated `oneOf` accepts, read from each branch's `const`/`enum`. */
function discriminatorValues(schema: JsonObject, tag: string, ctx: MessageContext): string[] {
  const branches = Array.isArray(schema.oneOf) ? schema.oneOf : [];
  const values: string[] = [];
  for (const branch of branches) {
    const props = ctx.deref(branch)?.properties;
    const prop = isObject(props) ? ctx.deref(props[tag]) : undefined;
    if (!prop) continue;
    if (typeof prop.const === 'string') values.push(prop.const);
    else if (Array.isArray(prop.enum)) values.push(...prop.enum.map(String));
  }
  return values;
}

/** The keys a schema declares, through `allOf` and `$ref`, without the dropped read-only ones. */
function allowedKeys(schema: JsonObject, ctx: MessageContext, seen = new Set<unknown>()): string[] {
  if (seen.has(schema)) return [];
  seen.add(schema);
  const keys: string[] = [];
  const props = schema.properties;
  if (isObject(props)) {
    for (const [name, sub] of Object.entries(props)) if (!ctx.isDropped(sub)) keys.push(name);
  }
  const parts = asArray(schema.allOf);
  if (typeof schema.$ref === 'string') parts.unshift({ $ref: schema.$ref });
  for (const part of parts) {
    const sub = ctx.deref(part);
    if (sub) keys.push(...allowedKeys(sub, ctx, seen));
  }
  return [...new Set(keys)];
}

function unknownKeyMessage(key: string, allowed: readonly string[], noun: string): string {
  const head = `unknown ${noun} "${key}"`;
  if (allowed.length === 0) return `${head} — none are allowed here`;
  const guess = closest(key, allowed);
  const shown = allowed.length > 24 ? `${allowed.slice(0, 24).join(', ')}, …` : allowed.join(', ');
  return `${head}${guess ? ` (did you mean "${guess}"?)` : ''} — allowed here: ${shown}`;
}

/** The allowed key a typo most likely meant, if one is close enough. */
function closest(key: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.min(3, Math.floor(key.length / 3)));
  for (const c of candidates) {
    const d = editDistance(key.toLowerCase(), c.toLowerCase());
    if (d <= bestDistance) {
      best = c;
      bestDistance = d - 1;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      next.push(Math.min((row[j] ?? 0) + 1, (next[j - 1] ?? 0) + 1, (row[j - 1] ?? 0) + cost));
    }
    row = next;
  }
  return row[b.length] ?? 0;
}

const TYPE_NOUNS: Record<string, string> = {
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'true or false',
  object: 'an object',
  array: 'an array',
  null: 'null',
};

function typeNoun(types: readonly string[]): string {
  return types.map((t) => TYPE_NOUNS[t] ?? t).join(' or ');
}

/** ` between 1280 and 9000`, ` of at least 1`, … for numeric types with bounds; '' otherwise. */
function rangeSuffix(schema: JsonObject, types: readonly string[]): string {
  if (!types.includes('integer') && !types.includes('number')) return '';
  const min = typeof schema.minimum === 'number' ? schema.minimum : undefined;
  const max = typeof schema.maximum === 'number' ? schema.maximum : undefined;
  const xmin = typeof schema.exclusiveMinimum === 'number' ? schema.exclusiveMinimum : undefined;
  const xmax = typeof schema.exclusiveMaximum === 'number' ? schema.exclusiveMaximum : undefined;
  if (min !== undefined && max !== undefined) return ` between ${min} and ${max}`;
  const parts: string[] = [];
  if (min !== undefined) parts.push(`at least ${min}`);
  if (xmin !== undefined) parts.push(`greater than ${xmin}`);
  if (max !== undefined) parts.push(`at most ${max}`);
  if (xmax !== undefined) parts.push(`less than ${xmax}`);
  return parts.length > 0 ? ` ${parts.join(' and ')}` : '';
}

function lengthRule(schema: JsonObject): string {
  const min = typeof schema.minLength === 'number' ? schema.minLength : undefined;
  const max = typeof schema.maxLength === 'number' ? schema.maxLength : undefined;
  if (min !== undefined && max !== undefined) return `must be between ${min} and ${max} characters long`;
  if (min === 1) return 'must not be empty';
  if (min !== undefined) return `must be at least ${plural(min, 'character')} long`;
  return `must be at most ${plural(max ?? 0, 'character')} long`;
}

function countRule(min: unknown, max: unknown, unit: string): string {
  if (typeof min === 'number' && typeof max === 'number') {
    return `must have between ${min} and ${plural(max, unit)}`;
  }
  if (typeof min === 'number') return `must have at least ${plural(min, unit)}`;
  return `must have at most ${plural(typeof max === 'number' ? max : 0, unit)}`;
}

function plural(n: number, unit: string): string {
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

const FORMAT_NOUNS: Record<string, string> = {
  'date-time': 'a date and time like 2024-05-01T12:00:00Z',
  date: 'a date like 2024-05-01',
  time: 'a time like 12:00:00Z',
  ipv4: 'an IPv4 address like 192.0.2.1',
  ipv6: 'an IPv6 address like 2001:db8::1',
  hostname: 'a DNS name like vpn.example.com',
  uri: 'an absolute URI',
  email: 'an e-mail address',
  uuid: 'a UUID',
};

function formatNoun(format: string): string {
  return FORMAT_NOUNS[format] ?? `a valid ${format}`;
}

/**
 * What a pattern stands for, from the schema's description (its first sentence, markdown backticks
 * dropped): "A resource name — …" becomes "must be a resource name — …". A pattern without a
 * description is shown as it is.
 */
function patternRule(schema: JsonObject): string {
  const raw = typeof schema.description === 'string' ? schema.description : '';
  const paragraph = (raw.split(/\n\s*\n/)[0] ?? '').replace(/`/g, '').replace(/\s+/g, ' ').trim();
  const sentence = (paragraph.split(/\.\s+(?=[A-Z])/)[0] ?? '').replace(/\.$/, '');
  if (sentence === '') return `must match the pattern ${String(schema.pattern)}`;
  const article = /^(a|an|the)\s/i.exec(sentence);
  if (article) return `must be ${sentence[0]?.toLowerCase() ?? ''}${sentence.slice(1)}`;
  return `does not have the expected form: ${sentence}`;
}

function listValues(values: unknown): string {
  return Array.isArray(values) ? values.map(showValue).join(', ') : '';
}

function showValue(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** ` (got "10.1.0.0")`, or '' when the value is a secret that must not be echoed back. */
function gotText(data: unknown, schema: JsonObject, pointer: string): string {
  const last = pointer.slice(pointer.lastIndexOf('/') + 1);
  if (schema.writeOnly === true || SECRET_NAME.test(last)) return '';
  return ` (got ${describeValue(data)})`;
}

function describeValue(data: unknown): string {
  if (data === undefined) return 'nothing';
  if (Array.isArray(data)) return data.length === 0 ? 'an empty array' : 'an array';
  if (isObject(data)) return 'an object';
  const text = JSON.stringify(data);
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN - 2)}…"` : text;
}
