import type { ResolvedConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import type { Observability } from './observability.js';

/**
 * The audit file, metrics and listener, if the config asks for any: loaded on demand, since prom-client and
 * the HTTP server would otherwise add to every start-up (bench/, P1).
 */
export async function openObservability(config: Pick<ResolvedConfig, 'audit' | 'listener'>, logger: Logger, live: boolean): Promise<Observability | undefined> {
  if (config.audit === undefined && (!live || config.listener === undefined)) return undefined;
  const { Observability } = await import('./observability.js');
  return new Observability(config, logger, live);
}
