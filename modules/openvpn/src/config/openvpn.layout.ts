// Where an instance's files live: one private directory per instance under the runtime dir. Every path
// the config names comes from here, so the set of paths written into a config is fixed and checked once.
import { join } from 'node:path';
import type { OpenvpnLayout } from './openvpn.config.types.js';
import { checkInstanceName, checkPath, checkSocketPath } from './openvpn.validate.js';

export interface OpenvpnLayoutOptions {
  /** The appliance's runtime dir for openvpn (e.g. /run/weft/openvpn); instances get `<dir>/<name>/`. */
  runtimeDir: string;
  name: string;
  /** Where the log goes instead of `<instance dir>/openvpn.log` (e.g. under /var/log/weft). */
  logFile?: string;
}

export function openvpnLayout(options: OpenvpnLayoutOptions): OpenvpnLayout {
  const dir = join(checkPath(options.runtimeDir, 'runtimeDir'), checkInstanceName(options.name));
  const layout: OpenvpnLayout = {
    dir,
    config: join(dir, 'openvpn.conf'),
    ca: join(dir, 'ca.pem'),
    cert: join(dir, 'cert.pem'),
    key: join(dir, 'key.pem'),
    tlsCrypt: join(dir, 'tls-crypt.key'),
    ccdDir: join(dir, 'ccd'),
    caDir: join(dir, 'ca.d'),
    tlsVerifyScript: join(dir, 'tls-verify.sh'),
    spokeCaBindings: join(dir, 'spoke-ca.bindings'),
    managementSocket: join(dir, 'management.sock'),
    log: options.logFile ?? join(dir, 'openvpn.log'),
    pidFile: join(dir, 'openvpn.pid'),
  };
  checkLayout(layout);
  return layout;
}

/** Checks a layout made elsewhere (tests, an owner with its own paths) the way openvpnLayout's are. */
export function checkLayout(layout: OpenvpnLayout): void {
  for (const [field, path] of Object.entries(layout) as [keyof OpenvpnLayout, string][]) {
    if (field === 'managementSocket') checkSocketPath(path, `layout.${field}`);
    else checkPath(path, `layout.${field}`);
  }
}
