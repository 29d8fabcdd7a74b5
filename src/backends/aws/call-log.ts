import type { Logger } from '../../log/logger.js';
import type { RateLimiter } from '../rate-limiter.js';

interface MiddlewareStackLike {
  add(
    middleware: (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => (args: unknown) => Promise<unknown>,
    options: { step: 'initialize'; name: string },
  ): void;
}

/**
 * Every AWS call waits for the backend's rate limiter, then is logged at debug level by its operation name
 * (never its input or output), which shows what a refresh costs.
 */
export function instrumentAwsClient(client: { middlewareStack: unknown }, logger: Logger, limiter: RateLimiter): void {
  (client.middlewareStack as MiddlewareStackLike).add(
    (next, context) => async (args) => {
      await limiter.take();
      logger.debug({ operation: context.commandName }, 'aws call');
      return next(args);
    },
    { step: 'initialize', name: 'secretsSidecarCallLog' },
  );
}

/** Client options shared by the AWS backends: retries are the watcher's (one policy for every backend). */
export function awsClientOptions(config: { region: string | undefined; endpoint: string | undefined }): {
  maxAttempts: number;
  region?: string;
  endpoint?: string;
} {
  return { maxAttempts: 1, ...(config.region ? { region: config.region } : {}), ...(config.endpoint ? { endpoint: config.endpoint } : {}) };
}
