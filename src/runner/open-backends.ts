import { dirname, join } from 'node:path';
import { createBackend } from '../backends/create-backend.js';
import type { BackendDependencies } from '../backends/provider.js';
import { writeFileAtomically } from '../output/write-file.js';
import type { CloseOptions, SecretBackend } from '../backends/types.js';
import type { ResolvedConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';

/** The name of the implicit certificates-only cache, beside the destinations when they share one directory. */
export const CERTIFICATE_CACHE_NAME = '.secrets-sidecar-certificates';

/**
 * What every backend of a config is given. `adopt`: take over what an earlier run left in a cache (at start of
 * `once` and `run`; a SIGHUP reload takes over nothing).
 */
export function backendDependencies(
  config: ResolvedConfig,
  logger: Logger,
  env: Readonly<Record<string, string | undefined>>,
  live: boolean,
  adopt: boolean,
): BackendDependencies {
  const directories = new Set(config.templates.map((t) => dirname(t.destination)));
  const [only] = directories;
  return {
    logger,
    env,
    retry: config.retry,
    live,
    writeFile: writeFileAtomically,
    adopt,
    // It may sit beside the outputs only when they share one directory: it holds whole issuances (keys too), so
    // beside a certificate whose key goes to another directory it would show whoever sees the first that key.
    certificateCacheDir: directories.size === 1 && only !== undefined ? join(only, CERTIFICATE_CACHE_NAME) : undefined,
  };
}

/**
 * The backends of a `once` run: no background work (token renewal), nothing kept alive. `keep` false (--dry-run,
 * which writes nothing): no cache is read or written either.
 */
export async function openBackends(
  config: ResolvedConfig,
  logger: Logger,
  env: Readonly<Record<string, string | undefined>>,
  keep = true,
): Promise<Map<string, SecretBackend>> {
  const deps = { ...backendDependencies(config, logger, env, false, true), keep };
  const entries = await Promise.all(config.backends.map(async (b) => [b.name, await createBackend(b, deps)] as const));
  return new Map(entries);
}

export async function closeBackends(backends: ReadonlyMap<string, SecretBackend>, logger: Logger, options: CloseOptions = {}): Promise<void> {
  await Promise.all(
    [...backends.values()].map((backend) =>
      backend
        .close(options)
        .catch((error: unknown) => logger.warn({ backend: backend.name, error: { message: (error as Error).message } }, 'backend close failed')),
    ),
  );
}
