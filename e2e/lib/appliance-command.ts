// Which program a lab starts on each gateway. The lab passes where and how; the command is an option so a
// scenario can run the real appliance, the stand-in, or anything else with the same contract.
import { existsSync } from 'node:fs';
import { realApplianceMain, standInApplianceMain } from './paths.js';

export interface ApplianceLaunch {
  site: string;
  /** `<site dir>`: logs, the private /run and /etc/swanctl. */
  siteDir: string;
  /** `<site dir>/data`, created by the lab (0700); the admin token is expected at `<dataDir>/admin-token`. */
  dataDir: string;
  /** `ADDR:PORT` on the gateway's management address. */
  listen: string;
}

/** Builds the argv started (inside the gateway's namespaces) for one site. */
export type ApplianceCommand = (launch: ApplianceLaunch) => string[];

/** `node appliance/dist/main.js serve --data-dir … --listen …` */
export const realAppliance: ApplianceCommand = (l) => [
  process.execPath,
  realApplianceMain,
  'serve',
  '--data-dir',
  l.dataDir,
  '--listen',
  l.listen,
];

/** A tiny HTTP server with the appliance's boot contract (token file, /health, /ready, bearer auth). */
export const standInAppliance: ApplianceCommand = (l) => [
  process.execPath,
  standInApplianceMain,
  'serve',
  '--data-dir',
  l.dataDir,
  '--listen',
  l.listen,
];

/**
 * `WEFT_E2E_APPLIANCE=real|stand-in` when set; otherwise the real appliance when it is built, else the
 * stand-in.
 */
export function defaultAppliance(env: NodeJS.ProcessEnv = process.env): ApplianceCommand {
  const choice = env.WEFT_E2E_APPLIANCE;
  if (choice === 'real') return realAppliance;
  if (choice === 'stand-in') return standInAppliance;
  if (choice !== undefined && choice !== '') {
    throw new Error(`WEFT_E2E_APPLIANCE="${choice}": use "real" or "stand-in"`);
  }
  return existsSync(realApplianceMain) ? realAppliance : standInAppliance;
}

export function describeAppliance(command: ApplianceCommand): string {
  if (command === realAppliance) return 'real appliance (appliance/dist/main.js)';
  if (command === standInAppliance) return 'stand-in (e2e/lib/fixtures/stand-in-appliance.ts)';
  return 'custom command';
}
