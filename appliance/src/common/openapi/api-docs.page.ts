// The API reference page served at /docs: one self-contained HTML document rendered from the spec
// (no scripts, no external assets: appliances are often offline). Every spec string is escaped.
import type { OpenApiDocument } from '@weft/api-spec';
import { asArray, deref, isObject, refName, type JsonObject } from './schema-walk.js';

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'] as const;
const MAX_NESTING = 4;

interface Operation {
  method: string;
  path: string;
  op: JsonObject;
  /** Path-item and operation parameters, resolved. */
  parameters: JsonObject[];
  id: string;
}

/** Renders the whole reference page. */
export function renderApiReference(spec: OpenApiDocument): string {
  const page = new ReferencePage(spec);
  return page.render();
}

class ReferencePage {
  private readonly base: string;
  private readonly operations: Operation[];
  private readonly schemas: JsonObject;

  constructor(private readonly spec: OpenApiDocument) {
    const server = Array.isArray(spec.servers) ? spec.servers[0] : undefined;
    this.base = isObject(server) && typeof server.url === 'string' ? server.url.replace(/\/$/, '') : '';
    this.schemas = isObject(spec.components?.schemas) ? spec.components.schemas : {};
    this.operations = [];
    for (const [path, item] of Object.entries(spec.paths ?? {})) {
      if (!isObject(item)) continue;
      for (const method of METHODS) {
        const op = item[method];
        if (!isObject(op)) continue;
        const parameters = [...asArray(item.parameters), ...asArray(op.parameters)]
          .map((p) => deref(spec, p))
          .filter((p): p is JsonObject => p !== undefined);
        const id = typeof op.operationId === 'string' ? op.operationId : `${method}-${path}`;
        this.operations.push({ method, path, op, parameters: dedupeParameters(parameters), id });
      }
    }
  }

  render(): string {
    const info = isObject(this.spec.info) ? this.spec.info : {};
    const title = str(info.title) ?? 'API reference';
    const version = str(info.version);
    const groups = this.groupByTag();
    return [
      '<!doctype html>',
      '<html lang="en">',
      '<head>',
      '<meta charset="utf-8">',
      '<meta name="viewport" content="width=device-width, initial-scale=1">',
      `<title>${esc(title)}${version ? ` ${esc(version)}` : ''} — reference</title>`,
      `<style>${STYLE}</style>`,
      '</head>',
      '<body>',
      this.renderNav(groups),
      '<main>',
      this.renderIntro(info, title, version),
      ...groups.map((g) => this.renderTag(g)),
      this.renderSchemas(),
      '</main>',
      '</body>',
      '</html>',
      '',
    ].join('\n');
  }

  private groupByTag(): { name: string; description?: string; ops: Operation[] }[] {
    const declared = asArray(this.spec.tags).filter(isObject);
    const names = declared.map((t) => String(t.name));
    for (const o of this.operations) {
      for (const t of tagsOf(o.op)) if (!names.includes(t)) names.push(t);
    }
    const groups = names.map((name) => {
      const tag = declared.find((t) => t.name === name);
      const description = tag ? str(tag.description) : undefined;
      return {
        name,
        ...(description ? { description } : {}),
        ops: this.operations.filter((o) => tagsOf(o.op).includes(name)),
      };
    });
    const untagged = this.operations.filter((o) => tagsOf(o.op).length === 0);
    if (untagged.length > 0) groups.push({ name: 'other', ops: untagged });
    return groups.filter((g) => g.ops.length > 0);
  }

  private renderNav(groups: { name: string; ops: Operation[] }[]): string {
    const opLinks = groups.map(
      (g) =>
        `<li><a href="#tag-${slug(g.name)}">${esc(g.name)}</a><ul>${g.ops
          .map(
            (o) =>
              `<li><a href="#op-${slug(o.id)}"><span class="m m-${o.method}">${o.method.toUpperCase()}</span> ${esc(o.path)}</a></li>`,
          )
          .join('')}</ul></li>`,
    );
    const schemaLinks = Object.keys(this.schemas).map(
      (name) => `<li><a href="#schema-${slug(name)}">${esc(name)}</a></li>`,
    );
    return [
      '<nav>',
      '<p class="nav-title"><a href="#top">Contents</a></p>',
      `<ul class="toc">${opLinks.join('')}`,
      `<li><a href="#schemas">Schemas</a><ul>${schemaLinks.join('')}</ul></li></ul>`,
      '</nav>',
    ].join('\n');
  }

  private renderIntro(info: JsonObject, title: string, version: string | undefined): string {
    const out = [
      '<header id="top">',
      `<h1>${esc(title)}${version ? ` <span class="version">v${esc(version)}</span>` : ''}</h1>`,
    ];
    const summary = str(info.summary);
    if (summary) out.push(`<p class="lead">${inline(summary)}</p>`);
    const description = str(info.description);
    if (description) out.push(markdown(description));
    const facts: string[] = [];
    if (this.base) facts.push(`<dt>Base path</dt><dd><code>${esc(this.base)}</code></dd>`);
    facts.push(
      `<dt>Specification</dt><dd>OpenAPI ${esc(String(this.spec.openapi))} · <code>${esc(this.base)}/openapi.json</code></dd>`,
    );
    const schemes = isObject(this.spec.components?.securitySchemes)
      ? this.spec.components.securitySchemes
      : {};
    for (const [name, raw] of Object.entries(schemes)) {
      const scheme = deref(this.spec, raw);
      if (!scheme) continue;
      const kind = [str(scheme.type), str(scheme.scheme)].filter(Boolean).join(' ');
      const text = str(scheme.description);
      facts.push(
        `<dt>Authentication: <code>${esc(name)}</code></dt><dd>${esc(kind)}${text ? ` — ${inline(text)}` : ''}</dd>`,
      );
    }
    out.push(`<dl class="facts">${facts.join('')}</dl>`, '</header>');
    return out.join('\n');
  }

  private renderTag(group: { name: string; description?: string; ops: Operation[] }): string {
    const out = [`<section class="tag" id="tag-${slug(group.name)}">`, `<h2>${esc(group.name)}</h2>`];
    if (group.description) out.push(markdown(group.description));
    for (const o of group.ops) {
      // An operation with several tags is described once, under its first tag.
      if (tagsOf(o.op)[0] === group.name || tagsOf(o.op).length === 0) out.push(this.renderOperation(o));
      else {
        out.push(
          `<p class="see-also"><span class="m m-${o.method}">${o.method.toUpperCase()}</span> <code>${esc(this.base + o.path)}</code> — described under <a href="#op-${slug(o.id)}">${esc(o.id)}</a></p>`,
        );
      }
    }
    out.push('</section>');
    return out.join('\n');
  }

  private renderOperation(o: Operation): string {
    const { op } = o;
    const out = [
      `<article class="op" id="op-${slug(o.id)}">`,
      `<h3><span class="m m-${o.method}">${o.method.toUpperCase()}</span> <code class="path">${esc(this.base + o.path)}</code></h3>`,
    ];
    const summary = str(op.summary);
    if (summary) out.push(`<p class="summary">${inline(summary)}</p>`);
    const auth = requiresAuth(op.security ?? this.spec.security)
      ? 'bearer token required'
      : 'no token needed';
    const deprecated = op.deprecated === true ? ' · <strong>deprecated</strong>' : '';
    out.push(`<p class="meta">operationId <code>${esc(o.id)}</code> · ${auth}${deprecated}</p>`);
    const description = str(op.description);
    if (description) out.push(markdown(description));
    if (o.parameters.length > 0) out.push('<h4>Parameters</h4>', this.renderParameters(o.parameters));
    if (op.requestBody !== undefined) out.push(this.renderRequestBody(op.requestBody));
    if (isObject(op.responses)) out.push('<h4>Responses</h4>', this.renderResponses(op.responses));
    out.push('</article>');
    return out.join('\n');
  }

  private renderParameters(parameters: JsonObject[]): string {
    const rows = parameters.map((p) => {
      const schema = isObject(p.schema) ? p.schema : {};
      const notes = [str(p.description) ? inline(String(p.description)) : '', ...this.constraints(schema)]
        .filter(Boolean)
        .join('<br>');
      const required = p.required === true || p.in === 'path';
      return `<tr><td><code>${esc(String(p.name))}</code></td><td>${esc(String(p.in))}</td><td>${this.typeLabel(schema)}</td><td>${required ? 'yes' : 'no'}</td><td>${notes}</td></tr>`;
    });
    return table(['Name', 'In', 'Type', 'Required', 'Description'], rows);
  }

  private renderRequestBody(raw: unknown): string {
    const body = deref(this.spec, raw);
    if (!body) return '';
    const out = [
      `<h4>Request body${body.required === true ? ' <span class="req">required</span>' : ''}</h4>`,
    ];
    const description = str(body.description);
    if (description) out.push(markdown(description));
    const content = isObject(body.content) ? body.content : {};
    for (const [type, media] of Object.entries(content)) {
      const schema = isObject(media) && isObject(media.schema) ? media.schema : {};
      out.push(`<p><code>${esc(type)}</code>: ${this.typeLabel(schema)}</p>`);
      if (typeof schema.$ref !== 'string') out.push(this.renderSchemaBody(schema, 0));
    }
    return out.join('\n');
  }

  private renderResponses(responses: JsonObject): string {
    const rows = Object.entries(responses).map(([status, raw]) => {
      const response = deref(this.spec, raw) ?? {};
      const cells: string[] = [];
      const content = isObject(response.content) ? response.content : {};
      for (const [type, media] of Object.entries(content)) {
        const schema = isObject(media) && isObject(media.schema) ? media.schema : {};
        const inlineObject = typeof schema.$ref !== 'string' && isObject(schema.properties);
        cells.push(
          `<code>${esc(type)}</code>: ${this.typeLabel(schema)}${inlineObject ? this.renderSchemaBody(schema, 0) : ''}`,
        );
      }
      const headers = isObject(response.headers) ? response.headers : {};
      for (const [name, h] of Object.entries(headers)) {
        const header = deref(this.spec, h);
        const text = header ? str(header.description) : undefined;
        cells.push(`header <code>${esc(name)}</code>${text ? `: ${inline(text)}` : ''}`);
      }
      return `<tr><td><code>${esc(status)}</code></td><td>${markdown(str(response.description) ?? '')}</td><td>${cells.join('<br>')}</td></tr>`;
    });
    return table(['Status', 'Meaning', 'Content'], rows);
  }

  private renderSchemas(): string {
    const out = ['<section id="schemas">', '<h2>Schemas</h2>'];
    for (const [name, schema] of Object.entries(this.schemas)) {
      if (!isObject(schema)) continue;
      out.push(`<article class="schema" id="schema-${slug(name)}">`, `<h3>${esc(name)}</h3>`);
      const description = str(schema.description);
      if (description) out.push(markdown(description));
      out.push(`<p class="meta">${this.kindLine(schema)}</p>`);
      const rules = this.constraints(schema);
      if (rules.length > 0) out.push(`<ul class="rules">${rules.map((r) => `<li>${r}</li>`).join('')}</ul>`);
      out.push(this.renderSchemaBody(schema, 0), '</article>');
    }
    out.push('</section>');
    return out.join('\n');
  }

  /** One line saying what kind of value a schema describes and how it is composed. */
  private kindLine(schema: JsonObject): string {
    const composed =
      Array.isArray(schema.oneOf) || Array.isArray(schema.anyOf) || Array.isArray(schema.allOf);
    const parts: string[] = [];
    if (schema.type !== undefined || !composed) parts.push(`Type: ${this.typeLabel(schema, false)}`);
    if (Array.isArray(schema.oneOf)) {
      parts.push(`exactly one of ${schema.oneOf.map((s) => this.typeLabel(s)).join(', ')}`);
      const d = isObject(schema.discriminator) ? schema.discriminator : undefined;
      if (d && typeof d.propertyName === 'string') {
        const mapping = isObject(d.mapping) ? d.mapping : {};
        const pairs = Object.entries(mapping).map(
          ([value, ref]) => `<code>${esc(value)}</code> → ${this.refLink(String(ref))}`,
        );
        parts.push(
          `chosen by <code>${esc(d.propertyName)}</code>${pairs.length > 0 ? `: ${pairs.join(', ')}` : ''}`,
        );
      }
    }
    if (Array.isArray(schema.anyOf))
      parts.push(`any of ${schema.anyOf.map((s) => this.typeLabel(s)).join(', ')}`);
    if (Array.isArray(schema.allOf)) {
      const refs = schema.allOf.filter((s) => isObject(s) && typeof s.$ref === 'string');
      const own = refs.length < schema.allOf.length || isObject(schema.properties);
      const named = refs.map((s) => this.typeLabel(s)).join(', ');
      parts.push(`includes all fields of ${named}${own ? ' and the fields below' : ''}`);
    }
    if (schema.additionalProperties === false || schema.unevaluatedProperties === false) {
      parts.push('no other fields are accepted');
    }
    return parts.join(' · ');
  }

  /** The property table of an object schema (with inline `allOf` parts), or '' for other schemas. */
  private renderSchemaBody(schema: JsonObject, depth: number): string {
    const rows = this.propertyRows(schema, '', depth);
    return rows.length > 0 ? table(['Field', 'Type', 'Required', 'Description'], rows) : '';
  }

  private propertyRows(schema: JsonObject, prefix: string, depth: number): string[] {
    const rows: string[] = [];
    const required = new Set(asArray(schema.required).map(String));
    const props = isObject(schema.properties) ? schema.properties : {};
    for (const [name, raw] of Object.entries(props)) {
      const prop = isObject(raw) ? raw : {};
      const target = typeof prop.$ref === 'string' ? deref(this.spec, prop) : undefined;
      const text = str(prop.description) ?? (target ? str(target.description) : undefined);
      const notes = [text ? inline(text) : '', ...this.constraints(prop)].filter(Boolean).join('<br>');
      const field = `${prefix}${name}`;
      rows.push(
        `<tr><td><code>${esc(field)}</code></td><td>${this.typeLabel(prop)}</td><td>${required.has(name) ? 'yes' : 'no'}</td><td>${notes}</td></tr>`,
      );
      if (depth >= MAX_NESTING) continue;
      if (typeof prop.$ref !== 'string' && isObject(prop.properties)) {
        rows.push(...this.propertyRows(prop, `${field}.`, depth + 1));
      }
      const items = isObject(prop.items) ? prop.items : undefined;
      if (items && typeof items.$ref !== 'string' && isObject(items.properties)) {
        rows.push(...this.propertyRows(items, `${field}[].`, depth + 1));
      }
    }
    for (const part of asArray(schema.allOf)) {
      if (isObject(part) && typeof part.$ref !== 'string')
        rows.push(...this.propertyRows(part, prefix, depth));
    }
    return rows;
  }

  /** A short type, with links to component schemas: `array of Cidr`, `string | null`. */
  private typeLabel(raw: unknown, followRef = true): string {
    if (!isObject(raw)) return raw === true ? 'any' : 'nothing';
    const schema = raw;
    if (typeof schema.$ref === 'string' && followRef) return this.refLink(schema.$ref);
    if (schema.const !== undefined) return `<code>${esc(JSON.stringify(schema.const))}</code>`;
    for (const key of ['oneOf', 'anyOf'] as const) {
      const list = schema[key];
      if (Array.isArray(list) && schema.type === undefined)
        return list.map((s) => this.typeLabel(s)).join(' | ');
    }
    if (Array.isArray(schema.allOf) && schema.type === undefined && !isObject(schema.properties)) {
      return schema.allOf.map((s) => this.typeLabel(s)).join(' &amp; ');
    }
    const types = Array.isArray(schema.type)
      ? schema.type.map(String)
      : str(schema.type)
        ? [String(schema.type)]
        : [];
    if (types.length === 0) return isObject(schema.properties) ? 'object' : 'any';
    return types
      .map((t) => {
        if (t === 'array') return `array of ${this.typeLabel(schema.items)}`;
        if (t === 'string' && typeof schema.format === 'string') return `string (${esc(schema.format)})`;
        return esc(t);
      })
      .join(' | ');
  }

  private refLink(ref: string): string {
    const name = refName(ref);
    return name in this.schemas
      ? `<a href="#schema-${slug(name)}">${esc(name)}</a>`
      : `<code>${esc(ref)}</code>`;
  }

  /** The rules a value must follow, in words, each already escaped. */
  private constraints(schema: JsonObject): string[] {
    const out: string[] = [];
    const code = (v: unknown): string => `<code>${esc(typeof v === 'string' ? v : JSON.stringify(v))}</code>`;
    if (Array.isArray(schema.enum)) out.push(`one of: ${schema.enum.map(code).join(', ')}`);
    if (typeof schema.pattern === 'string') out.push(`pattern ${code(schema.pattern)}`);
    const min = num(schema.minimum);
    const max = num(schema.maximum);
    if (min !== undefined && max !== undefined) out.push(`from ${min} to ${max}`);
    else if (min !== undefined) out.push(`at least ${min}`);
    else if (max !== undefined) out.push(`at most ${max}`);
    if (num(schema.exclusiveMinimum) !== undefined) out.push(`greater than ${num(schema.exclusiveMinimum)}`);
    if (num(schema.exclusiveMaximum) !== undefined) out.push(`less than ${num(schema.exclusiveMaximum)}`);
    if (num(schema.minLength) !== undefined) out.push(`at least ${num(schema.minLength)} characters`);
    if (num(schema.maxLength) !== undefined) out.push(`at most ${num(schema.maxLength)} characters`);
    if (num(schema.minItems) !== undefined) out.push(`at least ${num(schema.minItems)} items`);
    if (num(schema.maxItems) !== undefined) out.push(`at most ${num(schema.maxItems)} items`);
    if (schema.uniqueItems === true) out.push('no duplicates');
    if (schema.default !== undefined) out.push(`default ${code(schema.default)}`);
    if (schema.readOnly === true) out.push('<em>read-only</em>: set by the appliance, ignored in requests');
    if (schema.writeOnly === true) out.push('<em>write-only</em>: accepted in requests, never returned');
    if (schema.deprecated === true) out.push('<strong>deprecated</strong>');
    return out;
  }
}

function table(headings: string[], rows: string[]): string {
  return `<table><thead><tr>${headings.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

/** Operation parameters replace path-item parameters of the same name and location. */
function dedupeParameters(parameters: JsonObject[]): JsonObject[] {
  const byKey = new Map<string, JsonObject>();
  for (const p of parameters) byKey.set(`${String(p.in)} ${String(p.name)}`, p);
  return [...byKey.values()];
}

function requiresAuth(security: unknown): boolean {
  if (!Array.isArray(security) || security.length === 0) return false;
  return !security.some((req) => isObject(req) && Object.keys(req).length === 0);
}

function tagsOf(op: JsonObject): string[] {
  return asArray(op.tags).map(String);
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' ? value : undefined;
}

/** HTML-escapes text for element content and attribute values alike. */
function esc(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** A fragment identifier made only of safe characters. */
function slug(text: string): string {
  return text.replace(/[^A-Za-z0-9_-]/g, '-');
}

/** The little markdown the spec uses inside a line: `code` and **bold**, on escaped text. */
function inline(text: string): string {
  return esc(text)
    .replace(/`([^`]+)`/g, '<code>$1</code>')
    .replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>');
}

/** Paragraphs (blank-line separated) of inline markdown. */
function markdown(text: string): string {
  return text
    .split(/\n\s*\n/)
    .map((p) => p.trim())
    .filter((p) => p !== '')
    .map((p) => `<p>${inline(p.replace(/\s*\n\s*/g, ' '))}</p>`)
    .join('\n');
}

const STYLE = `
:root { --fg: #1d232b; --muted: #5b6673; --line: #d9dee4; --bg: #ffffff; --soft: #f4f6f8; --accent: #1f5fa8; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); display: flex; }
nav { position: sticky; top: 0; align-self: flex-start; width: 290px; height: 100vh; overflow-y: auto; padding: 1rem; border-right: 1px solid var(--line); background: var(--soft); font-size: 13px; }
nav ul { list-style: none; margin: 0; padding-left: 0.8rem; }
nav .toc { padding-left: 0; }
nav li { margin: 0.15rem 0; }
.nav-title { font-weight: 600; margin-top: 0; }
main { flex: 1; min-width: 0; max-width: 1100px; padding: 1.5rem 2.5rem 4rem; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
h1 { margin-top: 0; }
h2 { border-bottom: 2px solid var(--line); padding-bottom: 0.3rem; margin-top: 2.5rem; text-transform: capitalize; }
#schemas > h2 { text-transform: none; }
h3 { margin-bottom: 0.3rem; }
h4 { margin: 1rem 0 0.4rem; }
.version { font-size: 0.6em; color: var(--muted); font-weight: 400; }
.lead { font-size: 1.1em; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.3rem 1rem; }
.facts dt { font-weight: 600; }
.facts dd { margin: 0; }
.op, .schema { border: 1px solid var(--line); border-radius: 6px; padding: 0.8rem 1.2rem; margin: 1.2rem 0; }
.summary { font-weight: 500; margin: 0.2rem 0; }
.meta, .see-also { color: var(--muted); font-size: 0.9em; margin: 0.2rem 0 0.6rem; }
.req { font-size: 0.75em; background: #fde8e8; color: #9b1c1c; border-radius: 3px; padding: 0 0.3rem; vertical-align: middle; }
code { font: 0.9em ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: var(--soft); padding: 0 0.25rem; border-radius: 3px; overflow-wrap: anywhere; }
.path { font-size: 1em; background: none; }
.m { display: inline-block; min-width: 3.6em; text-align: center; font: 600 0.75em ui-monospace, monospace; color: #fff; border-radius: 3px; padding: 0.1rem 0.3rem; background: #6b7280; }
.m-get { background: #1f7a4d; } .m-put { background: #a05a00; } .m-post { background: #1f5fa8; } .m-delete { background: #b42318; } .m-patch { background: #6d3fb0; }
table { border-collapse: collapse; width: 100%; margin: 0.4rem 0 0.8rem; font-size: 0.92em; }
th, td { text-align: left; vertical-align: top; border-bottom: 1px solid var(--line); padding: 0.35rem 0.5rem; }
th { background: var(--soft); font-weight: 600; }
td table { margin: 0.4rem 0 0; }
.rules { margin: 0.2rem 0 0.6rem; color: var(--muted); }
@media (max-width: 800px) { body { display: block; } nav { position: static; width: auto; height: auto; } main { padding: 1rem; } }
`;
