// Where things are, relative to this compiled file (e2e/dist/lib/paths.js).
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url)).replace(/\/$/, '');
/** Shell helper that gives a command a private /run and /etc/swanctl (a source file, not compiled). */
export const siteExecScript = join(repoRoot, 'e2e', 'lib', 'site-exec.sh');
/** Every lab's files live in `<repo>/.lab/<run id>/` (gitignored). */
export const defaultLabRoot = join(repoRoot, '.lab');
export const realApplianceMain = join(repoRoot, 'appliance', 'dist', 'main.js');
export const standInApplianceMain = join(repoRoot, 'e2e', 'dist', 'lib', 'fixtures', 'stand-in-appliance.js');
