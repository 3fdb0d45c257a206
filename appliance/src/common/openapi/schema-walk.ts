// Small, framework-free helpers over the parsed spec: JSON pointers, local `$ref`s and a walk over
// the subschemas of a JSON Schema (2020-12) that knows which keywords hold schemas.

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The value if it is an array, else an empty one. */
export function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? (value as unknown[]) : [];
}

/** Escapes one reference token of a JSON pointer (RFC 6901). */
export function escapePointerToken(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

function unescapePointerToken(token: string): string {
  return token.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** Appends tokens to a JSON pointer. */
export function joinPointer(base: string, ...tokens: (string | number)[]): string {
  return base + tokens.map((t) => `/${escapePointerToken(String(t))}`).join('');
}

/** The value a fragment pointer (`#/components/schemas/Link`) names inside `doc`, if any. */
export function resolvePointer(doc: unknown, fragment: string): unknown {
  const hash = fragment.indexOf('#');
  const pointer = hash >= 0 ? fragment.slice(hash + 1) : fragment;
  if (pointer === '') return doc;
  if (!pointer.startsWith('/')) return undefined;
  let node: unknown = doc;
  for (const raw of pointer.slice(1).split('/')) {
    const token = unescapePointerToken(decodeURIComponent(raw));
    if (Array.isArray(node)) node = node[Number(token)] as unknown;
    else if (isObject(node)) node = node[token];
    else return undefined;
  }
  return node;
}

/**
 * Follows `$ref`s (local to `doc`, in any form ending in `#/…`) until an object without one, at most a
 * few hops deep so a cyclic spec cannot hang the caller.
 */
export function deref(doc: unknown, value: unknown): JsonObject | undefined {
  let node = value;
  for (let hops = 0; hops < 16 && isObject(node) && typeof node.$ref === 'string'; hops++) {
    node = resolvePointer(doc, node.$ref);
  }
  return isObject(node) ? node : undefined;
}

/** The last token of a `$ref`: `#/components/schemas/Link` → `Link`. */
export function refName(ref: string): string {
  const token = ref.slice(ref.lastIndexOf('/') + 1);
  return unescapePointerToken(decodeURIComponent(token));
}

const SINGLE_SCHEMA = [
  'items',
  'additionalProperties',
  'unevaluatedProperties',
  'unevaluatedItems',
  'additionalItems',
  'contains',
  'propertyNames',
  'not',
  'if',
  'then',
  'else',
] as const;
const SCHEMA_MAPS = ['properties', 'patternProperties', 'dependentSchemas', '$defs', 'definitions'] as const;
const SCHEMA_ARRAYS = ['allOf', 'anyOf', 'oneOf', 'prefixItems'] as const;

/**
 * Rebuilds a schema bottom-up: every subschema is mapped first, then `fn` sees the schema with its
 * mapped subschemas. Keys that are not schema keywords (an `example`, a `default`) are copied as they
 * are, so a property *named* like a keyword is never mistaken for one.
 */
export function mapSchema(schema: unknown, fn: (schema: JsonObject) => JsonObject): unknown {
  if (!isObject(schema)) return schema;
  const out: JsonObject = { ...schema };
  for (const key of SINGLE_SCHEMA) {
    if (key in out) out[key] = mapSchema(out[key], fn);
  }
  for (const key of SCHEMA_MAPS) {
    const map = out[key];
    if (isObject(map)) {
      out[key] = Object.fromEntries(Object.entries(map).map(([name, sub]) => [name, mapSchema(sub, fn)]));
    }
  }
  for (const key of SCHEMA_ARRAYS) {
    const list = out[key];
    if (Array.isArray(list)) out[key] = list.map((sub) => mapSchema(sub, fn));
  }
  return fn(out);
}
