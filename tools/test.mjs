#!/usr/bin/env node
// Runs the test tiers on the compiled output (dist/): unit, integration (inside a fresh network
// namespace), e2e (serially, they build whole labs). Prints one closing line "N passed, N failed".
// Usage: node tools/test.mjs [unit|integration|e2e ...] [--only <substring>]
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const tiers = [];
let only;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--only') only = args[++i];
  else tiers.push(args[i]);
}
const wanted = tiers.length > 0 ? tiers : ['unit', 'integration', 'e2e'];

function find(dir, suffix, out = []) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    if (e.name === 'node_modules') continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) find(p, suffix, out);
    else if (e.name.endsWith(suffix)) out.push(p);
  }
  return out;
}

const dists = [
  'api-spec/dist',
  'modules/core/dist',
  'modules/wireguard/dist',
  'modules/ipsec/dist',
  'modules/openvpn/dist',
  'appliance/dist',
  'e2e/dist',
  'bench/dist',
].map((d) => join(root, d));
const tierDefs = {
  unit: { suffix: '.spec.js', prefix: [], extra: [] },
  // Each integration file gets a network namespace of its own: they change the kernel.
  integration: { suffix: '.int-spec.js', prefix: ['unshare', '--net', '--'], extra: [], perFile: true },
  e2e: { suffix: '.e2e.js', prefix: [], extra: ['--test-concurrency=1'] },
};

const tmp = join(root, '.tmp', `test-${process.pid}`);
rmSync(tmp, { recursive: true, force: true });
mkdirSync(tmp, { recursive: true });
const total = { passed: 0, failed: 0, skipped: 0, failures: [] };
for (const tier of wanted) {
  const def = tierDefs[tier];
  if (!def) {
    console.error(`unknown test tier '${tier}': use unit, integration or e2e`);
    process.exit(2);
  }
  let files = dists.flatMap((d) => find(d, def.suffix)).sort();
  if (only) files = files.filter((f) => f.includes(only));
  if (files.length === 0) continue;
  console.log(`\n=== ${tier}: ${files.length} file(s) ===`);
  const groups = def.perFile ? files.map((f) => [f]) : [files];
  groups.forEach((group, i) => {
    const summaryFile = join(tmp, `${tier}-${i}.json`);
    const cmd = [
      ...def.prefix,
      process.execPath,
      '--enable-source-maps',
      '--test',
      ...def.extra,
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      `--test-reporter=${join(root, 'tools/summary-reporter.mjs')}`,
      `--test-reporter-destination=${summaryFile}`,
      ...group.map((f) => relative(root, f)),
    ];
    const res = spawnSync(cmd[0], cmd.slice(1), { cwd: root, stdio: 'inherit', env: process.env });
    let s;
    try {
      s = JSON.parse(readFileSync(summaryFile, 'utf8'));
    } catch {
      s = {
        passed: 0,
        failed: 1,
        skipped: 0,
        failures: [`${tier}: the runner ended without a summary (exit ${res.status})`],
      };
    }
    if (res.status !== 0 && s.failed === 0) {
      s.failed = 1;
      s.failures.push(`${tier}: the runner exited ${res.status}`);
    }
    total.passed += s.passed;
    total.failed += s.failed;
    total.skipped += s.skipped;
    total.failures.push(...s.failures);
  });
}
rmSync(tmp, { recursive: true, force: true });
if (total.failures.length > 0) {
  console.log('\nFailed:');
  for (const f of total.failures) console.log(`  - ${f}`);
}
console.log(`\n${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
process.exit(total.failed > 0 || total.passed === 0 ? 1 : 0);
