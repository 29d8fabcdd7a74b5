import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import type * as Https from 'node:https';
import { createRequire } from 'node:module';
import { formatDuration } from '../../config/duration.js';
import { deadlineSignal } from '../../timer.js';
import { linkSignals } from '../bounded-call.js';

export interface VaultHttpOptions {
  readonly address: string;
  readonly namespace: string;
  readonly maxConnections: number;
  readonly timeoutMs: number;
  readonly tls: { readonly ca?: Buffer; readonly cert?: Buffer; readonly key?: Buffer; readonly servername?: string; readonly rejectUnauthorized: boolean };
}

/** What Vault answers on success; secrets engines and auth methods fill different parts. */
export interface VaultResponse {
  readonly data?: Record<string, unknown> | null;
  readonly lease_id?: string;
  readonly lease_duration?: number;
  readonly renewable?: boolean;
  readonly auth?: { readonly client_token?: string; readonly lease_duration?: number; readonly renewable?: boolean };
}

export interface VaultRequestOptions {
  /** Ends the request early (a stopped watch, the shutdown's budget); it rejects with the signal's reason. */
  readonly signal?: AbortSignal | undefined;
  /** Instead of the shared pool (revocations at exit, which must not queue behind one another). */
  readonly agent?: HttpAgent | Https.Agent | undefined;
}

/** A non-2xx answer: the status and Vault's `errors` list, never the request (its headers hold the token). */
export class VaultHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** From `Retry-After` on a 429 or 503, in ms. */
    readonly retryAfterMs?: number,
    /**
     * Vault wraps what its policy check refuses as a multi-error ("1 error occurred: * permission denied"),
     * while a token it does not know at all gets a bare "permission denied".
     */
    readonly policyRefusal = false,
  ) {
    super(message);
    this.name = 'VaultHttpError';
  }
}

/** No Vault answer comes near this; a server sending more is refused before it fills the memory. */
export const MAX_ANSWER_BYTES = 32 * 1024 * 1024;

/** The answer was larger than MAX_ANSWER_BYTES. */
export class VaultAnswerTooLargeError extends Error {
  constructor() {
    super(`the answer is larger than ${MAX_ANSWER_BYTES / 1024 / 1024} MiB`);
    this.name = 'VaultAnswerTooLargeError';
  }
}

/** The whole request (queueing for a socket, connect, headers, body) took longer than `request_timeout`. */
export class VaultTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(timeoutMs: number) {
    super(`no complete answer within ${formatDuration(timeoutMs)} (request_timeout)`);
    this.name = 'VaultTimeoutError';
  }
}

/**
 * The Vault HTTP API over Node's own client with a keep-alive pool of `maxConnections` sockets. Secret reads,
 * writes, renewals and revocations go through here rather than through node-vault: its axios stack and response
 * schema validation cost about a fifth of the CPU of a 500-secret `once` run (bench/bench.mjs), for calls
 * that need none of it.
 */
export class VaultHttp {
  readonly #base: URL;
  readonly #agent: HttpAgent | Https.Agent;
  /** node:https (and TLS under it), loaded only for an https address: a plain-HTTP Vault never pays for it. */
  readonly #https: typeof Https | undefined;

  constructor(private readonly options: VaultHttpOptions) {
    this.#base = new URL(options.address.endsWith('/') ? options.address : `${options.address}/`);
    this.#https = this.#base.protocol === 'https:' ? (createRequire(import.meta.url)('node:https') as typeof Https) : undefined;
    const pool = { keepAlive: true, maxSockets: options.maxConnections };
    this.#agent = this.#https ? new this.#https.Agent({ ...pool, ...options.tls }) : new HttpAgent(pool);
  }

  /** An agent of its own, with the pool's TLS settings: destroying it ends its calls and no others. */
  separateAgent(maxSockets = Infinity): HttpAgent | Https.Agent {
    return this.#https ? new this.#https.Agent({ ...this.options.tls, keepAlive: false, maxSockets }) : new HttpAgent({ keepAlive: false, maxSockets });
  }

  /**
   * `path` is relative to /v1/ and may carry a query string. The deadline covers the whole request, from the wait
   * for a pooled socket to the body's last byte, so a server that trickles its answer cannot hold it open;
   * `signal` (a stopped watch, shutdown) ends it at once, and the socket with it.
   */
  request(method: string, path: string, token: string | undefined, body?: object, options: VaultRequestOptions = {}): Promise<VaultResponse> {
    const url = new URL(`v1/${path}`, this.#base);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (token) headers['x-vault-token'] = token;
    if (this.options.namespace) headers['x-vault-namespace'] = this.options.namespace;
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    const send = this.#https?.request ?? httpRequest;
    return boundedCall(
      this.options.timeoutMs,
      options.signal,
      (abortSignal) =>
        new Promise<VaultResponse>((resolve, reject) => {
          const req = send(url, { method, headers, agent: options.agent ?? this.#agent, signal: abortSignal }, (res) => {
            readBody(res).then((text) => {
              const status = res.statusCode ?? 0;
              if (status >= 200 && status < 300) {
                // A proxy's HTML page or a body cut short: say so without quoting it (it may hold a secret).
                try {
                  const parsed: unknown = text ? JSON.parse(text) : {};
                  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
                  resolve(parsed);
                } catch {
                  reject(new VaultHttpError(status, `the answer (${text.length} bytes) is not a JSON object`));
                }
              } else {
                const retryAfterMs = status === 429 || status === 503 ? parseRetryAfter(res.headers['retry-after']) : undefined;
                reject(new VaultHttpError(status, errorText(text, res.statusMessage), retryAfterMs, /^\s*\d+ errors? occurred/.test(errorText(text, ''))));
              }
            }, reject);
          });
          req.on('error', reject);
          req.end(payload);
        }),
    );
  }

  close(): void {
    this.#agent.destroy();
  }
}

function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_ANSWER_BYTES) res.destroy(new VaultAnswerTooLargeError());
      else chunks.push(chunk);
    });
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}

/**
 * Runs `call` with a signal that aborts at the deadline (rejecting with VaultTimeoutError) or when `signal` aborts
 * (rejecting with its reason), whichever comes first; the call must end its request when its signal aborts.
 */
export async function boundedCall<T>(timeoutMs: number, signal: AbortSignal | undefined, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
  signal?.throwIfAborted();
  const deadline = deadlineSignal(timeoutMs, () => new VaultTimeoutError(timeoutMs));
  // Not AbortSignal.any: on Node 20 it leaves a listener's worth on the long-lived signal at every call.
  const linked = linkSignals(signal ? [deadline.signal, signal] : [deadline.signal]);
  const combined = linked.signal;
  const aborted = new Promise<never>((_, reject) => {
    const onAbort = () => reject(combined.reason as Error);
    combined.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => undefined);
  try {
    return await Promise.race([call(combined), aborted]);
  } finally {
    deadline.clear();
    linked.dispose();
  }
}

/** Seconds (or an HTTP date) to ms; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (!text) return undefined;
  const seconds = Number(text);
  if (Number.isFinite(seconds)) return seconds >= 0 ? seconds * 1000 : undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** Vault's `{"errors": [...]}`; a proxy's HTML page or an empty body falls back to the status text. */
function errorText(text: string, statusMessage: string | undefined): string {
  try {
    const errors = (JSON.parse(text) as { errors?: unknown }).errors;
    if (Array.isArray(errors) && errors.length > 0) return errors.map(String).join('; ');
  } catch {
    // Not JSON: fall through.
  }
  return statusMessage ?? 'error';
}
