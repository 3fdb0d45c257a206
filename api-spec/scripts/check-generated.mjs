// Fails when generated/openapi.ts is not what openapi-typescript makes from openapi.yaml today.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const here = new URL('..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'weft-spec-'));
try {
  const out = join(dir, 'openapi.ts');
  execFileSync(
    'npx',
    ['openapi-typescript', join(here, 'openapi.yaml'), '--default-non-nullable', 'false', '--output', out],
    { stdio: 'pipe' },
  );
  const fresh = readFileSync(out, 'utf8');
  const committed = readFileSync(join(here, 'generated/openapi.ts'), 'utf8');
  if (fresh !== committed) {
    console.error('api-spec: generated/openapi.ts is stale. Run `npm run gen:api` and commit the result.');
    process.exit(1);
  }
  console.log('api-spec: generated types match openapi.yaml');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
