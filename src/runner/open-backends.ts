import { createBackend } from '../backends/create-backend.js';
import { writeFileAtomically } from '../output/write-file.js';
import type { CloseOptions, SecretBackend } from '../backends/types.js';
import type { ResolvedConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';

/** The backends of a `once` run: no background work (token renewal), nothing kept alive. */
export async function openBackends(
  config: ResolvedConfig,
  logger: Logger,
  env: Readonly<Record<string, string | undefined>>,
): Promise<Map<string, SecretBackend>> {
  const entries = await Promise.all(
    config.backends.map(
      async (b) => [b.name, await createBackend(b, { logger, env, retry: config.retry, live: false, writeFile: writeFileAtomically })] as const,
    ),
  );
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
