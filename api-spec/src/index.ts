// The API contract: the spec file, its parsed form, and the types generated from it.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import type { components, operations, paths } from '../generated/openapi.js';

export type { components, operations, paths };
export type Schemas = components['schemas'];

/** Absolute path of openapi.yaml. */
export const specPath: string = fileURLToPath(new URL('../../openapi.yaml', import.meta.url));

export interface OpenApiDocument {
  openapi: string;
  info: Record<string, unknown>;
  servers?: { url: string }[];
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: Record<string, unknown> } & Record<string, unknown>;
  [key: string]: unknown;
}

let cached: OpenApiDocument | undefined;

/** The parsed spec (read once). Callers must not mutate it; take a structuredClone to change it. */
export function loadSpec(): OpenApiDocument {
  cached ??= parse(readFileSync(specPath, 'utf8')) as OpenApiDocument;
  return cached;
}

/** The base path every operation lives under, e.g. `/api/v1`. */
export function basePath(): string {
  return loadSpec().servers?.[0]?.url ?? '/api/v1';
}
