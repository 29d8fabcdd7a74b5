import { request } from 'node:https';
import { formatDuration } from '../config/duration.js';
import { SidecarError } from '../errors.js';
import { deadlineSignal } from '../timer.js';
import type { KubeConnection } from './kube-connection.js';

/** A workload's JSON is kilobytes; an answer past this is not the API server's. */
const MAX_ANSWER_BYTES = 4 * 1024 * 1024;

export interface KubeAnswer {
  readonly status: number;
  readonly body: Record<string, unknown> | undefined;
}

export interface KubeCall {
  readonly method: 'GET' | 'PATCH';
  readonly path: string;
  readonly body?: unknown;
  readonly contentType?: string;
  /** Bounds the whole call: connecting, TLS, sending and every byte of the answer. */
  readonly timeoutMs: number;
  /** What messages call the call, e.g. `notify "web": GET deployment default/web`. */
  readonly what: string;
}

/** One call to the API server. Never throws on a status, only on a transport failure or the deadline (coded). */
export async function callKube(connection: KubeConnection, call: KubeCall): Promise<KubeAnswer> {
  const deadline = deadlineSignal(
    call.timeoutMs,
    () => new SidecarError('SIDECAR_ERR_RELOAD_TIMEOUT', `${call.what}: the API server did not answer within ${formatDuration(call.timeoutMs)}`),
  );
  try {
    const token = connection.token ? await connection.token() : undefined;
    const payload = call.body === undefined ? undefined : JSON.stringify(call.body);
    return await new Promise<KubeAnswer>((resolve, reject) => {
      const req = request(
        new URL(call.path, connection.server),
        {
          method: call.method,
          ca: connection.ca,
          cert: connection.cert,
          key: connection.key,
          signal: deadline.signal,
          // No proxy, no redirects: the answer comes from the API server itself.
          agent: false,
          headers: {
            Accept: 'application/json',
            'User-Agent': 'secrets-sidecar',
            ...(token === undefined ? {} : { Authorization: `Bearer ${token}` }),
            ...(payload === undefined ? {} : { 'Content-Type': call.contentType ?? 'application/json', 'Content-Length': Buffer.byteLength(payload) }),
          },
        },
        (response) => {
          const chunks: Buffer[] = [];
          let size = 0;
          response.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_ANSWER_BYTES) {
              response.destroy();
              reject(new SidecarError('SIDECAR_ERR_RELOAD_FAILED', `${call.what}: the answer is larger than ${MAX_ANSWER_BYTES} bytes`));
              return;
            }
            chunks.push(chunk);
          });
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body: parseBody(Buffer.concat(chunks)) }));
          response.on('error', reject);
        },
      );
      req.on('error', reject);
      // A server that trickles its answer keeps the socket alive: the deadline ends the call whatever the socket does.
      deadline.signal.addEventListener('abort', () => reject(deadline.signal.reason as Error), { once: true });
      req.end(payload);
    });
  } catch (error) {
    if (deadline.signal.aborted) throw deadline.signal.reason as SidecarError;
    if (error instanceof SidecarError) throw error;
    // A code, never the message: TLS errors can quote certificates, and none of that helps more than the code.
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).name;
    throw new SidecarError('SIDECAR_ERR_RELOAD_FAILED', `${call.what}: cannot reach the API server (${code})`, { cause: error });
  } finally {
    deadline.clear();
  }
}

function parseBody(bytes: Buffer): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(bytes.toString('utf8'));
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
