import type { Logger } from '../log/logger.js';
import { createLogger, type LogFormat, type LogLevel } from '../log/logger.js';
import { errorFields } from '../log/error-fields.js';
import { startWebhook } from '../webhook/webhook-server.js';
import { loadWebhookConfig } from '../webhook/webhook-config.js';
import { EXIT_CODES } from './exit-codes.js';
import { toSidecarError } from '../errors.js';

/** `secrets-sidecar webhook -c webhook.hcl`: serves admissions until SIGTERM or SIGINT. */
export async function runWebhookCommand(
  configPath: string,
  globals: { logLevel?: LogLevel | undefined; logFormat?: LogFormat | undefined },
  io: { env: Readonly<Record<string, string | undefined>>; signals: NodeJS.EventEmitter },
): Promise<number> {
  let logger: Logger = createLogger({ level: globals.logLevel ?? 'info', format: globals.logFormat ?? 'json' });
  try {
    const config = await loadWebhookConfig(configPath);
    logger = createLogger({ level: globals.logLevel ?? config.logLevel, format: globals.logFormat ?? config.logFormat });
    const stop = new Promise<string>((resolve) => {
      io.signals.once('SIGTERM', () => resolve('SIGTERM'));
      io.signals.once('SIGINT', () => resolve('SIGINT'));
    });
    const webhook = await Promise.race([startWebhook(config, logger, io.env), stop]);
    if (typeof webhook === 'string') return EXIT_CODES.success;
    const signal = await stop;
    logger.info({ signal }, 'shutting down');
    await webhook.close();
    return EXIT_CODES.success;
  } catch (error) {
    const coded = toSidecarError(error);
    logger.error({ error: errorFields(coded) }, coded.message.split('\n')[0] ?? 'failed');
    return EXIT_CODES[coded.category];
  }
}
