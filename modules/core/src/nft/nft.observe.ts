// Our table as `nft -j list table` shows it → a normalized structure (no handles, no counter values),
// a readable line per rule, and the differences between two such tables. Pure.
import type {
  NftObservedChain,
  NftObservedObject,
  NftObservedRule,
  NftObservedTable,
  NftTableName,
} from './nft.types.js';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The table named `table` in the output of `nft -j list table …` (or `list ruleset`), normalized:
 * undefined when the listing does not hold it. Throws when the text is not nft's JSON.
 */
export function normalizeNftJson(text: string, table: NftTableName): NftObservedTable | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new Error('nft -j printed something that is not JSON', { cause });
  }
  const items = isObject(parsed) ? parsed.nftables : undefined;
  if (!Array.isArray(items)) throw new Error('nft -j printed JSON without an "nftables" list');
  const ours = (o: Json): boolean => o.family === table.family && o.table === table.name;
  let found = false;
  const chains = new Map<string, NftObservedChain>();
  const objects: NftObservedObject[] = [];
  const rules: Array<{ chain: string; rule: NftObservedRule }> = [];
  for (const item of items) {
    if (!isObject(item)) continue;
    for (const [kind, body] of Object.entries(item)) {
      if (!isObject(body) || kind === 'metainfo') continue;
      if (kind === 'table') {
        if (body.family === table.family && body.name === table.name) found = true;
      } else if (!ours(body)) {
        continue;
      } else if (kind === 'chain') {
        const chain: NftObservedChain = { name: String(body.name), rules: [] };
        if (typeof body.type === 'string') chain.type = body.type;
        if (typeof body.hook === 'string') chain.hook = body.hook;
        if (typeof body.prio === 'number') chain.prio = body.prio;
        if (typeof body.policy === 'string') chain.policy = body.policy;
        chains.set(chain.name, chain);
      } else if (kind === 'rule') {
        const rule: NftObservedRule = { expr: Array.isArray(body.expr) ? body.expr.map(stripCounters) : [] };
        if (typeof body.comment === 'string') rule.comment = body.comment;
        rules.push({ chain: String(body.chain), rule });
      } else {
        const rest: Json = {};
        for (const [k, v] of Object.entries(body)) {
          if (k !== 'family' && k !== 'table' && k !== 'handle' && k !== 'name') rest[k] = stripCounters(v);
        }
        if (kind === 'counter') {
          delete rest.packets;
          delete rest.bytes;
        }
        objects.push({ kind, name: String(body.name), body: rest });
      }
    }
  }
  if (!found) return undefined;
  for (const { chain, rule } of rules) {
    let c = chains.get(chain);
    if (!c) chains.set(chain, (c = { name: chain, rules: [] }));
    c.rules.push(rule);
  }
  return {
    family: table.family,
    name: table.name,
    chains: [...chains.values()].sort((a, b) => compareText(a.name, b.name)),
    objects: objects.sort((a, b) => compareText(a.kind, b.kind) || compareText(a.name, b.name)),
  };
}

/** Counter values change with every packet: `{counter: {packets, bytes}}` becomes `{counter: null}`. */
function stripCounters(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripCounters);
  if (!isObject(value)) return value;
  const out: Json = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === 'counter' && isObject(v)) out[k] = null;
    else if (k === 'quota' && isObject(v)) {
      const { used: _used, used_unit: _unit, ...rest } = v;
      out[k] = rest;
    } else out[k] = stripCounters(v);
  }
  return out;
}

/** A rule in nft's own syntax, close to what `nft list` prints; JSON for statements it does not know. */
export function describeNftRule(rule: NftObservedRule): string {
  const parts = rule.expr.map(describeStatement);
  if (rule.comment !== undefined) parts.push(`comment ${JSON.stringify(rule.comment)}`);
  return parts.join(' ');
}

function describeStatement(stmt: unknown): string {
  if (!isObject(stmt)) return JSON.stringify(stmt);
  const [entry] = Object.entries(stmt);
  if (!entry || Object.keys(stmt).length !== 1) return JSON.stringify(stmt);
  const [kind, body] = entry;
  switch (kind) {
    case 'match': {
      if (!isObject(body)) break;
      const op = body.op === '==' || body.op === 'in' ? '' : `${String(body.op)} `;
      // Interface names are strings, and nft prints them quoted.
      const quoted =
        isObject(body.left) && isObject(body.left.meta) && /name$/.test(String(body.left.meta.key));
      const right =
        quoted && typeof body.right === 'string' ? JSON.stringify(body.right) : describeValue(body.right);
      return `${describeValue(body.left)} ${op}${right}`;
    }
    case 'snat':
    case 'dnat': {
      if (!isObject(body)) return kind;
      const family = typeof body.family === 'string' ? ` ${body.family}` : '';
      const prefix = body.type_flags === 'prefix' ? ' prefix' : '';
      let to = body.addr === undefined ? '' : describeValue(body.addr);
      if (body.port !== undefined)
        to = `${body.family === 'ip6' ? `[${to}]` : to}:${describeValue(body.port)}`;
      return `${kind}${family}${prefix} to ${to}`;
    }
    case 'masquerade':
      return body === null ? 'masquerade' : `masquerade ${JSON.stringify(body)}`;
    case 'mangle':
      if (isObject(body)) return `${describeValue(body.key)} set ${describeValue(body.value)}`;
      break;
    case 'counter':
      return 'counter';
    case 'accept':
    case 'drop':
    case 'return':
    case 'continue':
      return kind;
    case 'jump':
    case 'goto':
      if (isObject(body)) return `${kind} ${String(body.target)}`;
      break;
    default:
      break;
  }
  return JSON.stringify(stmt);
}

function describeValue(value: unknown): string {
  if (typeof value === 'string') return /^[A-Za-z0-9_.:/-]+$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value)) return value.map(describeValue).join(' | ');
  if (!isObject(value)) return JSON.stringify(value);
  const [entry] = Object.entries(value);
  if (!entry) return '{}';
  const [kind, body] = entry;
  if (isObject(body)) {
    switch (kind) {
      case 'meta':
        // nft prints iifname, oifname, mark… without the `meta` keyword.
        return String(body.key);
      case 'payload':
        return `${String(body.protocol)} ${String(body.field)}`;
      case 'tcp option':
        return `tcp option ${String(body.name)} ${String(body.field)}`;
      case 'ct':
      case 'rt':
        return `${kind} ${String(body.key)}`;
      case 'prefix':
        return `${String(body.addr)}/${String(body.len)}`;
      default:
        break;
    }
  }
  if (kind === 'set' && Array.isArray(body)) return `{ ${body.map(describeValue).join(', ')} }`;
  if (kind === 'range' && Array.isArray(body)) return body.map(describeValue).join('-');
  return JSON.stringify(value);
}

/** What is in `actual` and not in `expected` and the other way round, one readable line each. */
export function diffNftTables(expected: NftObservedTable, actual: NftObservedTable): string[] {
  const out: string[] = [];
  const actualChains = new Map(actual.chains.map((c) => [c.name, c]));
  const expectedChains = new Map(expected.chains.map((c) => [c.name, c]));
  for (const want of expected.chains) {
    const have = actualChains.get(want.name);
    if (!have) {
      out.push(`chain ${want.name} missing`);
      continue;
    }
    const header = (c: NftObservedChain): string =>
      c.hook === undefined
        ? 'regular chain'
        : `type ${c.type} hook ${c.hook} priority ${c.prio} policy ${c.policy}`;
    if (header(want) !== header(have)) {
      out.push(`chain ${want.name} changed: ${header(want)} → ${header(have)}`);
    }
    for (const { op, rule } of diffRules(want.rules, have.rules)) {
      out.push(
        op === '+'
          ? `rule added in chain ${want.name}: ${describeNftRule(rule)}`
          : `rule missing from chain ${want.name}: ${describeNftRule(rule)}`,
      );
    }
  }
  for (const have of actual.chains) {
    if (!expectedChains.has(have.name)) out.push(`chain ${have.name} added (${have.rules.length} rules)`);
  }
  const key = (o: NftObservedObject): string => `${o.kind} ${o.name}`;
  const actualObjects = new Map(actual.objects.map((o) => [key(o), o]));
  const expectedObjects = new Map(expected.objects.map((o) => [key(o), o]));
  for (const want of expected.objects) {
    const have = actualObjects.get(key(want));
    if (!have) out.push(`${key(want)} missing`);
    else if (JSON.stringify(have.body) !== JSON.stringify(want.body)) out.push(`${key(want)} changed`);
  }
  for (const have of actual.objects) {
    if (!expectedObjects.has(key(have))) out.push(`${key(have)} added`);
  }
  return out;
}

/** An edit script from `want` to `have` (longest common subsequence): rules added (+) and missing (-). */
function diffRules(
  want: readonly NftObservedRule[],
  have: readonly NftObservedRule[],
): Array<{ op: '+' | '-'; rule: NftObservedRule }> {
  const a = want.map((r) => JSON.stringify(r));
  const b = have.map((r) => JSON.stringify(r));
  // lcs[i][j]: length of the LCS of a[i..] and b[j..]
  const lcs = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  const at = (i: number, j: number): number => lcs[i]?.[j] ?? 0;
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      const row = lcs[i];
      if (row) row[j] = a[i] === b[j] ? at(i + 1, j + 1) + 1 : Math.max(at(i + 1, j), at(i, j + 1));
    }
  }
  const out: Array<{ op: '+' | '-'; rule: NftObservedRule }> = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      i++;
      j++;
    } else if (j < b.length && (i >= a.length || at(i, j + 1) >= at(i + 1, j))) {
      out.push({ op: '+', rule: have[j++] as NftObservedRule });
    } else {
      out.push({ op: '-', rule: want[i++] as NftObservedRule });
    }
  }
  return out;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
