// Picks the implementation and builds its configurer: the one call the appliance's composition root needs.
import type { WireGuardConfigurer } from './configurer.js';
import { detectImplementation, type Detection, type ImplementationChoice } from './detect.js';
import { KernelConfigurer } from './kernel.configurer.js';
import { IpLinkAdapter, type LinkAdapter } from './link.adapter.js';
import type { ProcessRunner } from '@weft/core';
import { UserspaceConfigurer, type UserspaceConfigurerOptions } from './userspace.configurer.js';

export interface CreateConfigurerOptions extends Omit<UserspaceConfigurerOptions, 'processes' | 'links'> {
  processes: ProcessRunner;
  implementation?: ImplementationChoice;
  links?: LinkAdapter;
}

export async function createWireGuardConfigurer(
  options: CreateConfigurerOptions,
): Promise<{ configurer: WireGuardConfigurer; detection: Detection }> {
  const links = options.links ?? new IpLinkAdapter(options.processes);
  const detectOptions: Parameters<typeof detectImplementation>[1] = { links };
  if (options.implementation !== undefined) detectOptions.implementation = options.implementation;
  if (options.wireguardGo !== undefined) detectOptions.wireguardGo = options.wireguardGo;
  const detection = await detectImplementation(options.processes, detectOptions);
  const configurer =
    detection.kind === 'kernel'
      ? new KernelConfigurer({ links })
      : new UserspaceConfigurer({ ...options, links });
  return { configurer, detection };
}
