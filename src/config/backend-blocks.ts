import { resolve } from 'node:path';
import { z } from 'zod';
import type { AnyProvider, ConfigFacts, ResolveContext } from '../backends/provider.js';
import { PROVIDERS, type BackendConfig } from '../backends/registry.js';
import type { SidecarError } from '../errors.js';
import type { PathSegment, Position } from './located.js';

const backendName = z.string().regex(/^[A-Za-z0-9_.-]+$/, 'a backend name may use letters, digits, "_", "." and "-" only');

/** `backend "<type>" "<name>" {}` blocks: one optional map of named blocks per registered type. */
export const backendsSchema = z.strictObject(Object.fromEntries(PROVIDERS.map((p: AnyProvider) => [p.type, z.record(backendName, p.schema).optional()])));

/** The backend types, for messages. */
export const BACKEND_TYPES: readonly string[] = PROVIDERS.map((p) => p.type);

/** Resolves every backend block through its provider; a name is unique across all types. */
export function resolveBackends(
  raw: Readonly<Record<string, Readonly<Record<string, unknown>> | undefined>> | undefined,
  base: string,
  invalid: (path: PathSegment[], message: string) => SidecarError,
  position: (path: PathSegment[]) => Position,
): BackendConfig[] {
  checkUniqueNames(raw, invalid, position);
  const backends: BackendConfig[] = [];
  for (const provider of PROVIDERS as readonly AnyProvider[]) {
    for (const [name, block] of Object.entries(raw?.[provider.type] ?? {})) {
      const context: ResolveContext = {
        name,
        base,
        path: ((value: string | undefined) => (value === undefined ? undefined : resolve(base, value))) as ResolveContext['path'],
        invalid: (at, message) => invalid(['backend', provider.type, name, ...at], message),
      };
      backends.push(provider.resolve(block, context) as BackendConfig);
    }
  }
  return backends;
}

/**
 * A name used twice is reported at its second use in the file, naming the type of the first: the order of the
 * blocks in the file, not of the registry, so that a registry line added or moved changes no message.
 */
function checkUniqueNames(
  raw: Readonly<Record<string, Readonly<Record<string, unknown>> | undefined>> | undefined,
  invalid: (path: PathSegment[], message: string) => SidecarError,
  position: (path: PathSegment[]) => Position,
): void {
  const blocks = PROVIDERS.flatMap(({ type }) => Object.keys(raw?.[type] ?? {}).map((name) => ({ type, name, at: position(['backend', type, name]) })));
  blocks.sort((a, b) => a.at.line - b.at.line || a.at.column - b.at.column);
  const seen = new Map<string, string>();
  for (const { type, name } of blocks) {
    const other = seen.get(name);
    if (other) throw invalid(['backend', type, name], `backend name "${name}" is already used by the backend of type "${other}"; names must be unique`);
    seen.set(name, type);
  }
}

/** Applies the providers' hooks that need the whole config (defaults derived from waits and notify timeouts). */
export function completeBackends(
  backends: readonly BackendConfig[],
  facts: Omit<ConfigFacts, 'invalid'>,
  invalid: (path: PathSegment[], message: string) => SidecarError,
): readonly BackendConfig[] {
  return Object.freeze(
    backends.map((config) => {
      const provider: AnyProvider | undefined = PROVIDERS.find((p) => p.type === config.type);
      const located = {
        ...facts,
        invalid: (at: readonly (string | number)[], message: string) => invalid(['backend', config.type, config.name, ...at], message),
      };
      return (provider?.complete?.(config, located) ?? config) as BackendConfig;
    }),
  );
}
