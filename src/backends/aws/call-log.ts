import type { Logger } from '../../log/logger.js';

interface MiddlewareStackLike {
  add(middleware: (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => (args: unknown) => Promise<unknown>, options: { step: 'initialize'; name: string }): void;
}

/** Logs each AWS call's operation name at debug level (never its input or output): what a refresh costs. */
export function logAwsCalls(client: { middlewareStack: unknown }, logger: Logger): void {
  (client.middlewareStack as MiddlewareStackLike).add(
    (next, context) => (args) => {
      logger.debug({ operation: context.commandName }, 'aws call');
      return next(args);
    },
    { step: 'initialize', name: 'secretsSidecarCallLog' },
  );
}

/** Client options shared by the AWS backends: retries are the watcher's (one policy for every backend). */
export function awsClientOptions(config: { region: string | undefined; endpoint: string | undefined }): { maxAttempts: number; region?: string; endpoint?: string } {
  return { maxAttempts: 1, ...(config.region ? { region: config.region } : {}), ...(config.endpoint ? { endpoint: config.endpoint } : {}) };
}
