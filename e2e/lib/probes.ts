// What scenarios ask a site again and again: does a LAN host reach an address, what does a link's
// status say, which CA does the appliance show.
import type { Site } from './site.js';

export type Json = Record<string, unknown>;

/** One ping from the site's LAN host; true when the answer came back within a second. */
export async function ping(from: Site, address: string): Promise<boolean> {
  try {
    await from.lanExec(['ping', '-n', '-q', '-c', '1', '-W', '1', address]);
    return true;
  } catch {
    return false;
  }
}

export async function linkStatus(site: Site, name: string): Promise<Json> {
  return (await site.api.get<Json>(`/links/${name}/status`)).body;
}

export interface DiagnosisSeen {
  code?: string;
  message?: string;
  fix?: string;
}

/** A status's diagnosis, or an empty one. */
export function diagnosisOf(status: Json): DiagnosisSeen {
  return (status.diagnosis as DiagnosisSeen | null) ?? {};
}

/** The appliance's CA certificate (`GET /appliance`), which the other side's `remote_ca` trusts. */
export async function caOf(site: Site): Promise<string> {
  const res = await site.api.get<{ ca_certificate?: string }>('/appliance');
  const ca = res.body.ca_certificate;
  if (!ca) throw new Error(`site ${site.name}: GET /appliance has no ca_certificate`);
  return ca;
}
