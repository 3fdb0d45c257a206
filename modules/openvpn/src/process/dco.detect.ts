// Data channel offload: openvpn 2.6 moves the data channel into the kernel when the ovpn-dco module is
// loaded (the out-of-tree ovpn-dco-v2 that 2.6 speaks; it shows as /sys/module/ovpn_dco_v2). Without it
// Weft renders `disable-dco`, so openvpn does not probe, note and fall back on every start. This lab's
// kernel has no ovpn-dco (LAB-NOTES): here the answer is "off".

/** What detectDco needs: whether a path exists. */
export interface DcoProbe {
  exists(path: string): Promise<boolean>;
}

export type DcoChoice = 'auto' | 'on' | 'off';

export interface DcoDetection {
  enabled: boolean;
  /** One line for the log: what was found and why it was chosen. */
  reason: string;
}

export const DCO_MODULE_PATHS: readonly string[] = ['/sys/module/ovpn_dco_v2'];

export async function detectDco(probe: DcoProbe, choice: DcoChoice = 'auto'): Promise<DcoDetection> {
  let found: string | undefined;
  for (const p of DCO_MODULE_PATHS) {
    if (await probe.exists(p)) {
      found = p;
      break;
    }
  }
  switch (choice) {
    case 'off':
      return { enabled: false, reason: 'DCO turned off by setting: disable-dco' };
    case 'on':
      return {
        enabled: true,
        reason: found
          ? `DCO forced on; the kernel has ovpn-dco (${found})`
          : `DCO forced on although ${DCO_MODULE_PATHS.join(', ')} is missing: openvpn will note it and fall back to userspace`,
      };
    case 'auto':
      return found
        ? { enabled: true, reason: `the kernel has ovpn-dco (${found}): data channel offload on` }
        : {
            enabled: false,
            reason: `the kernel has no ovpn-dco (${DCO_MODULE_PATHS.join(', ')} missing): disable-dco, data channel in userspace`,
          };
  }
}
