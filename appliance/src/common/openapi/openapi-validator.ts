// Run-time request validation against the spec's own schemas (convention 2). Built once at start-up:
// every operation's parameters and JSON body are compiled by Ajv (JSON Schema 2020-12, as OpenAPI 3.1
// uses), so a broken spec fails the boot rather than the first request.
import type { OpenApiDocument } from '@weft/api-spec';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import type { DataValidationCxt } from 'ajv/dist/types/index.js';
import formatsModule, { type FormatsPluginOptions } from 'ajv-formats';
import type { ProblemError } from './problem.js';
import { asArray, deref, isObject, mapSchema, resolvePointer, type JsonObject } from './schema-walk.js';
import { cleanUp, translateError, type MessageContext, type TranslatedError } from './validation-messages.js';

// ajv-formats is typed against its own copy of Ajv; the plugin only calls the public API we share.
const addFormats = formatsModule.default as unknown as (
  ajv: Ajv2020,
  options?: FormatsPluginOptions,
) => Ajv2020;

/** The `$id` under which the spec's component schemas are registered with Ajv. */
const SPEC_SCHEMA_ID = 'urn:weft:openapi';
const COMPONENT_SCHEMA_REF = '#/components/schemas/';
/** Stands in for a `readOnly` property in request schemas: accepts any value and deletes it. */
const DROP_KEYWORD = 'x-weft-drop-read-only';
/** OpenAPI annotations that are not JSON Schema keywords; declared so Ajv's strict mode accepts them. */
const OPENAPI_ANNOTATIONS = ['example', 'xml', 'externalDocs'];
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'] as const;
const JSON_MEDIA = /^application\/(?:[\w.-]+\+)?json$/;

export type ParameterLocation = 'path' | 'query' | 'header' | 'cookie';

export interface ParameterInfo {
  name: string;
  in: ParameterLocation;
  required: boolean;
  description?: string;
  /** The parameter's schema as written in the spec. */
  schema: JsonObject;
}

/** What the spec says about one operation. */
export interface OperationInfo {
  operationId: string;
  /** Upper case: `GET`, `PUT`… */
  method: string;
  /** The OpenAPI path template without the base path, e.g. `/links/{name}`. */
  routePath: string;
  summary?: string;
  description?: string;
  tags: string[];
  /** True when a bearer token is required. */
  security: boolean;
  parameters: ParameterInfo[];
  requestBody?: { required: boolean; contentTypes: string[] };
}

/** A concrete request path matched to an operation. */
export interface OperationMatch {
  operationId: string;
  method: string;
  routePath: string;
  /** Path parameters, percent-decoded, not yet validated. */
  params: Record<string, string>;
  security: boolean;
}

export interface RequestToValidate {
  method: string;
  /** The OpenAPI path template without the base path, e.g. `/links/{name}`. */
  routePath: string;
  params: Record<string, string>;
  query: Record<string, unknown>;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

export type ValidationResult =
  | { ok: true; body: unknown; query: Record<string, unknown>; params: Record<string, unknown> }
  | { ok: false; errors: ProblemError[] };

export interface OpenApiValidatorOptions {
  /**
   * `reject` (default): a query parameter the operation does not declare is an error, so a typo like
   * `dryrun=true` cannot turn a dry run into a real commit. `ignore`: passed through unvalidated.
   */
  unknownQueryParameters?: 'reject' | 'ignore';
}

interface ParameterGroup {
  location: Exclude<ParameterLocation, 'cookie'>;
  validate: ValidateFunction;
  /** Parameter schema types by name, to tell a repeated scalar from a list. */
  acceptsList: Map<string, boolean>;
}

interface CompiledOperation {
  info: OperationInfo;
  matcher: RegExp;
  paramNames: string[];
  /** Sort key: templates with fewer parameters win over ones that would also match. */
  specificity: number;
  path: ParameterGroup;
  query: ParameterGroup;
  header: ParameterGroup;
  body?: { required: boolean; validate: ValidateFunction };
}

const POINTER_PREFIX: Record<ParameterGroup['location'], string> = {
  path: '/path',
  query: '/query',
  header: '/header',
};
const KEY_NOUN: Record<ParameterGroup['location'], string> = {
  path: 'path parameter',
  query: 'query parameter',
  header: 'header',
};

export class OpenApiValidator {
  private readonly spec: OpenApiDocument;
  /** Component schemas rewritten for requests (read-only properties dropped, refs made absolute). */
  private readonly requestSchemas: JsonObject;
  /** The schema registered as SPEC_SCHEMA_ID, which the request schemas' `$ref`s point into. */
  private readonly requestRoot: JsonObject;
  private readonly bodyAjv: Ajv2020;
  private readonly paramAjv: Ajv2020;
  private readonly byKey = new Map<string, CompiledOperation>();
  private readonly byId = new Map<string, CompiledOperation>();
  private readonly byMethod = new Map<string, CompiledOperation[]>();
  private readonly options: Required<OpenApiValidatorOptions>;

  constructor(spec: OpenApiDocument, options: OpenApiValidatorOptions = {}) {
    this.spec = structuredClone(spec);
    this.options = { unknownQueryParameters: options.unknownQueryParameters ?? 'reject' };
    const schemas = isObject(this.spec.components?.schemas) ? this.spec.components.schemas : {};
    this.requestSchemas = Object.fromEntries(
      Object.entries(schemas).map(([name, schema]) => [
        name,
        this.forRequest(schema, `components/schemas/${name}`),
      ]),
    );
    this.requestRoot = { $id: SPEC_SCHEMA_ID, $defs: this.requestSchemas };
    this.checkDiscriminatorMappings(schemas);
    // Bodies are JSON and keep their types; parameters arrive as strings and are coerced.
    this.bodyAjv = this.newAjv(false);
    this.paramAjv = this.newAjv(true);
    for (const [routePath, item] of Object.entries(this.spec.paths ?? {})) {
      if (!isObject(item)) continue;
      for (const method of METHODS) {
        const op = item[method];
        if (isObject(op)) this.compileOperation(routePath, method, item, op);
      }
    }
    for (const list of this.byMethod.values()) list.sort((a, b) => a.specificity - b.specificity);
  }

  /** The operation a request's method and concrete path (without the base path) address, if any. */
  findOperation(method: string, path: string): OperationMatch | undefined {
    const upper = method.toUpperCase();
    const candidates = this.byMethod.get(upper) ?? (upper === 'HEAD' ? this.byMethod.get('GET') : undefined);
    for (const op of candidates ?? []) {
      const m = op.matcher.exec(path);
      if (!m) continue;
      const params: Record<string, string> = {};
      op.paramNames.forEach((name, i) => (params[name] = decodeSegment(m[i + 1] ?? '')));
      const { operationId, method: opMethod, routePath, security } = op.info;
      return { operationId, method: opMethod, routePath, params, security };
    }
    return undefined;
  }

  /** What the spec says about one operation, by its `operationId`. */
  operation(operationId: string): OperationInfo | undefined {
    return this.byId.get(operationId)?.info;
  }

  /** Every operation, in spec order. */
  operations(): OperationInfo[] {
    return [...this.byId.values()].map((op) => op.info);
  }

  /**
   * Validates a request of a known operation. On success returns the body with read-only fields
   * dropped and defaults filled in, and the query and path parameters coerced to their schema types
   * (with defaults). Throws for an operation the spec does not have: that is a routing bug.
   */
  validateRequest(req: RequestToValidate): ValidationResult {
    const method = req.method.toUpperCase();
    const op =
      this.byKey.get(`${method} ${req.routePath}`) ??
      (method === 'HEAD' ? this.byKey.get(`GET ${req.routePath}`) : undefined);
    if (!op) throw new Error(`no operation ${method} ${req.routePath} in the API spec`);

    const errors: TranslatedError[] = [];
    const params = this.validateGroup(op.path, { ...req.params }, errors);
    const query = this.validateGroup(op.query, this.queryInput(op, req.query), errors);
    this.validateGroup(op.header, headerInput(op, req.headers), errors);
    const body = this.validateBody(op, req.body, errors);

    const clean = cleanUp(errors);
    if (clean.length > 0) return { ok: false, errors: clean };
    return { ok: true, body, query, params };
  }

  private validateGroup(group: ParameterGroup, input: JsonObject, errors: TranslatedError[]): JsonObject {
    const prefix = POINTER_PREFIX[group.location];
    for (const [name, value] of Object.entries(input)) {
      if (Array.isArray(value) && group.acceptsList.get(name) === false) {
        errors.push({
          pointer: `${prefix}/${name}`,
          message: `must be given once (got ${value.length} values)`,
          keyword: 'repeated',
        });
        delete input[name];
      }
    }
    if (!group.validate(input)) this.collect(group.validate.errors, prefix, KEY_NOUN[group.location], errors);
    return input;
  }

  private validateBody(op: CompiledOperation, raw: unknown, errors: TranslatedError[]): unknown {
    if (!op.body) return raw;
    if (raw === undefined || raw === '' || !isJsonValue(raw)) {
      if (op.body.required || raw !== undefined) {
        errors.push({
          pointer: '',
          message: 'a JSON body is required: send the document with Content-Type: application/json',
          keyword: 'body',
        });
      }
      return undefined;
    }
    // Validation drops read-only fields and fills defaults in place: work on a copy.
    const body = structuredClone(raw);
    if (!op.body.validate(body)) this.collect(op.body.validate.errors, '', 'field', errors);
    return body;
  }

  private collect(
    ajvErrors: ErrorObject[] | null | undefined,
    prefix: string,
    keyNoun: string,
    out: TranslatedError[],
  ): void {
    const ctx: MessageContext = {
      keyNoun,
      deref: (schema) => deref(this.requestRoot, schema),
      isDropped: (schema) => isObject(schema) && schema[DROP_KEYWORD] === true,
    };
    for (const err of ajvErrors ?? []) {
      const translated = translateError(err, prefix, ctx);
      if (translated) out.push(translated);
    }
  }

  private queryInput(op: CompiledOperation, query: Record<string, unknown>): JsonObject {
    const input: JsonObject = {};
    for (const [name, value] of Object.entries(query)) {
      if (value === undefined) continue;
      if (this.options.unknownQueryParameters === 'ignore' && !op.query.acceptsList.has(name)) continue;
      input[name] = value;
    }
    return input;
  }

  private newAjv(coerceTypes: boolean): Ajv2020 {
    const ajv = new Ajv2020({
      allErrors: true,
      verbose: true,
      discriminator: true,
      useDefaults: true,
      coerceTypes,
      // Strict about the schemas themselves (a typo like `minimun` fails the boot), but not about
      // type annotations OpenAPI documents routinely leave implicit.
      strict: true,
      strictTypes: false,
      strictTuples: false,
      strictRequired: false,
      allowUnionTypes: true,
    });
    addFormats(ajv);
    ajv.addVocabulary(OPENAPI_ANNOTATIONS);
    ajv.addKeyword({
      keyword: DROP_KEYWORD,
      schemaType: 'boolean',
      modifying: true,
      errors: false,
      validate: dropProperty,
    });
    ajv.addSchema(this.requestRoot);
    return ajv;
  }

  private compileOperation(routePath: string, method: string, item: JsonObject, op: JsonObject): void {
    const upper = method.toUpperCase();
    const operationId = typeof op.operationId === 'string' ? op.operationId : `${method} ${routePath}`;
    const where = `${upper} ${routePath} (${operationId})`;
    const parameters = this.mergeParameters(item.parameters, op.parameters, where);
    const body = this.requestBodyOf(op, where);
    const security = requiresAuth(op.security ?? this.spec.security);

    const info: OperationInfo = {
      operationId,
      method: upper,
      routePath,
      ...(typeof op.summary === 'string' ? { summary: op.summary } : {}),
      ...(typeof op.description === 'string' ? { description: op.description } : {}),
      tags: Array.isArray(op.tags) ? op.tags.map(String) : [],
      security,
      parameters,
      ...(body ? { requestBody: { required: body.required, contentTypes: body.contentTypes } } : {}),
    };
    const { matcher, names } = templateMatcher(routePath);
    const compiled: CompiledOperation = {
      info,
      matcher,
      paramNames: names,
      specificity: names.length,
      path: this.compileGroup('path', parameters, where),
      query: this.compileGroup('query', parameters, where),
      header: this.compileGroup('header', parameters, where),
      ...(body?.schema
        ? {
            body: {
              required: body.required,
              validate: this.compile(
                this.bodyAjv,
                this.forRequest(body.schema, `${where} request body`),
                where,
              ),
            },
          }
        : {}),
    };
    for (const name of names) {
      if (!parameters.some((p) => p.in === 'path' && p.name === name)) {
        throw new Error(`${where}: path parameter {${name}} is not declared`);
      }
    }
    if (this.byId.has(operationId)) throw new Error(`${where}: operationId is used twice`);
    this.byId.set(operationId, compiled);
    this.byKey.set(`${upper} ${routePath}`, compiled);
    const list = this.byMethod.get(upper) ?? [];
    list.push(compiled);
    this.byMethod.set(upper, list);
  }

  private compileGroup(
    location: ParameterGroup['location'],
    all: ParameterInfo[],
    where: string,
  ): ParameterGroup {
    const mine = all.filter((p) => p.in === location);
    const properties: JsonObject = {};
    const acceptsList = new Map<string, boolean>();
    for (const p of mine) {
      properties[p.name] = this.forRequest(p.schema, `${where} parameter ${p.name}`);
      acceptsList.set(p.name, deref(this.spec, p.schema)?.type === 'array');
    }
    const schema: JsonObject = {
      type: 'object',
      properties,
      required: mine.filter((p) => p.required).map((p) => p.name),
    };
    if (location === 'query' && this.options.unknownQueryParameters === 'reject') {
      schema.additionalProperties = false;
    }
    return { location, validate: this.compile(this.paramAjv, schema, where), acceptsList };
  }

  private compile(ajv: Ajv2020, schema: unknown, where: string): ValidateFunction {
    try {
      return ajv.compile(schema as JsonObject);
    } catch (cause) {
      throw new Error(`API spec: cannot compile the schema of ${where}`, { cause });
    }
  }

  /** Path-item parameters overridden by operation parameters of the same name and location. */
  private mergeParameters(itemParams: unknown, opParams: unknown, where: string): ParameterInfo[] {
    const merged = new Map<string, ParameterInfo>();
    for (const raw of [...asArray(itemParams), ...asArray(opParams)]) {
      const p = deref(this.spec, raw);
      if (!p || typeof p.name !== 'string' || !isLocation(p.in)) {
        throw new Error(`${where}: a parameter has no name or no valid "in"`);
      }
      const schema = isObject(p.schema) ? p.schema : {};
      merged.set(`${p.in} ${p.name}`, {
        name: p.name,
        in: p.in,
        required: p.in === 'path' || p.required === true,
        ...(typeof p.description === 'string' ? { description: p.description } : {}),
        schema,
      });
    }
    return [...merged.values()];
  }

  private requestBodyOf(
    op: JsonObject,
    where: string,
  ): { required: boolean; contentTypes: string[]; schema?: JsonObject } | undefined {
    if (op.requestBody === undefined) return undefined;
    const body = deref(this.spec, op.requestBody);
    if (!body) throw new Error(`${where}: requestBody does not resolve`);
    const content = isObject(body.content) ? body.content : {};
    const contentTypes = Object.keys(content);
    const json = contentTypes.find((t) => JSON_MEDIA.test(t));
    const media = json === undefined ? undefined : content[json];
    const schema = isObject(media) && isObject(media.schema) ? media.schema : undefined;
    return { required: body.required === true, contentTypes, ...(schema ? { schema } : {}) };
  }

  /**
   * The request form of a schema: `$ref`s made absolute into the registered components, read-only
   * properties replaced by a keyword that drops them (a client may PUT back what it GOT), and
   * `discriminator.mapping` removed (Ajv derives the same mapping from each branch's `const`; it is
   * checked against the spec's at start-up) and a discriminated schema typed as an object.
   */
  private forRequest(schema: unknown, where: string): JsonObject {
    const mapped = mapSchema(schema, (s) => {
      const out: JsonObject = {};
      for (const [key, value] of Object.entries(s)) {
        if (key.startsWith('x-')) continue;
        out[key] = value;
      }
      if (typeof out.$ref === 'string') {
        if (!out.$ref.startsWith(COMPONENT_SCHEMA_REF)) {
          throw new Error(
            `API spec: ${where} refers to ${out.$ref}; only ${COMPONENT_SCHEMA_REF}* is supported`,
          );
        }
        out.$ref = `${SPEC_SCHEMA_ID}#/$defs/${out.$ref.slice(COMPONENT_SCHEMA_REF.length)}`;
      }
      if (isObject(out.discriminator)) {
        const { mapping: _mapping, ...rest } = out.discriminator;
        out.discriminator = rest;
        // Ajv applies `discriminator` to objects only and then skips `oneOf`: without a type, a string
        // where a Link belongs would pass.
        out.type ??= 'object';
      }
      if (isObject(out.properties)) {
        const readOnly = Object.entries(out.properties)
          .filter(([, sub]) => this.isReadOnly(sub))
          .map(([name]) => name);
        if (readOnly.length > 0) {
          const props: JsonObject = { ...out.properties };
          for (const name of readOnly) props[name] = { [DROP_KEYWORD]: true };
          out.properties = props;
          if (Array.isArray(out.required))
            out.required = out.required.filter((r) => !readOnly.includes(String(r)));
        }
      }
      return out;
    });
    return isObject(mapped) ? mapped : {};
  }

  private isReadOnly(schema: unknown): boolean {
    if (!isObject(schema)) return false;
    if (schema.readOnly === true) return true;
    if (typeof schema.$ref !== 'string') return false;
    // Subschemas are rewritten bottom-up, so this ref already points into the registered `$defs`.
    const name = schema.$ref.slice(schema.$ref.lastIndexOf('/') + 1);
    const target = deref(this.spec, { $ref: `${COMPONENT_SCHEMA_REF}${name}` });
    return target?.readOnly === true;
  }

  /** Fails the boot when a discriminator mapping disagrees with its branches' `const` tag values. */
  private checkDiscriminatorMappings(schemas: JsonObject): void {
    for (const [name, schema] of Object.entries(schemas)) {
      if (!isObject(schema) || !isObject(schema.discriminator)) continue;
      const { propertyName, mapping } = schema.discriminator;
      if (typeof propertyName !== 'string' || !isObject(mapping)) continue;
      for (const [value, ref] of Object.entries(mapping)) {
        const branch = typeof ref === 'string' ? resolvePointer(this.spec, ref) : undefined;
        const props = isObject(branch) ? branch.properties : undefined;
        const tag = isObject(props) ? deref(this.spec, props[propertyName]) : undefined;
        if (tag?.const !== value) {
          throw new Error(
            `API spec: ${name}.discriminator maps "${value}" to ${String(ref)}, whose ${propertyName} is not const "${value}"`,
          );
        }
      }
    }
  }
}

function dropProperty(_schema: unknown, _data: unknown, _parent?: unknown, cxt?: DataValidationCxt): boolean {
  if (cxt && isObject(cxt.parentData)) delete cxt.parentData[cxt.parentDataProperty];
  return true;
}

function headerInput(
  op: CompiledOperation,
  headers: Record<string, string | string[] | undefined>,
): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  for (const p of op.info.parameters) {
    if (p.in !== 'header') continue;
    const value = headers[p.name.toLowerCase()] ?? headers[p.name];
    if (value !== undefined) input[p.name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return input;
}

/** `/config/revisions/{number}` → a regex capturing `number` from one path segment. */
function templateMatcher(template: string): { matcher: RegExp; names: string[] } {
  const names: string[] = [];
  const source = template
    .split(/(\{[^}/]+\})/)
    .map((part) => {
      const m = /^\{([^}/]+)\}$/.exec(part);
      if (!m?.[1]) return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(m[1]);
      return '([^/]+)';
    })
    .join('');
  return { matcher: new RegExp(`^${source}$`), names };
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** An empty requirement object (`{}`) in the list makes authentication optional. */
function requiresAuth(security: unknown): boolean {
  if (!Array.isArray(security) || security.length === 0) return false;
  return !security.some((req) => isObject(req) && Object.keys(req).length === 0);
}

function isLocation(value: unknown): value is ParameterLocation {
  return value === 'path' || value === 'query' || value === 'header' || value === 'cookie';
}

/** A value JSON.parse can produce (not a Buffer, a stream or a parser's stand-in object). */
function isJsonValue(value: unknown): boolean {
  if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) return true;
  if (Array.isArray(value)) return true;
  if (typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}
