import { SidecarError, isSidecarError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import { boundedCall, logAbandoned } from '../bounded-call.js';
import { awsError } from './aws-errors.js';

/**
 * Without a region every call fails with a bare "Error" that looks like an outage and is retried forever: it is a
 * config error, found at start with the SDK's own resolution (the block's region, AWS_REGION, the shared config).
 */
export async function requireRegion(client: { config: { region: () => Promise<string> } }, backendName: string): Promise<void> {
  let problem = 'Region is missing';
  try {
    if (await client.config.region()) return;
  } catch (error) {
    problem = (error as Error).message.split('\n')[0] ?? problem;
  }
  throw new SidecarError('SIDECAR_ERR_CONFIG_INVALID', `backend "${backendName}": no AWS region (${problem})`, {
    hint: 'set region in the backend block, or AWS_REGION (or a region in the AWS config file; the SDK does not read AWS_DEFAULT_REGION)',
  });
}

/**
 * One AWS call bounded by request_timeout and the given signal (connect, headers and body), its failure coded; a
 * call cut short by shutdown or `once --timeout` is logged, so the log says what was still in flight.
 */
export async function sendBounded<T>(
  what: string,
  options: { signals: readonly AbortSignal[]; timeoutMs: number; logger: Logger },
  send: (abortSignal: AbortSignal) => Promise<T>,
): Promise<T> {
  try {
    return await boundedCall(send, {
      signals: options.signals,
      timeoutMs: options.timeoutMs,
      what,
      onAbandon: (reason) => logAbandoned(options.logger, what, reason),
    });
  } catch (error) {
    throw isSidecarError(error) ? error : awsError(error, what);
  }
}
