import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

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

/** A non-2xx answer: the status and Vault's `errors` list, never the request (its headers hold the token). */
export class VaultHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'VaultHttpError';
  }
}

/**
 * The Vault HTTP API over Node's own client with a keep-alive pool of `maxConnections` sockets. Secret reads,
 * writes, renewals and revocations go through here rather than through node-vault: its axios stack and response
 * schema validation cost about a fifth of the CPU of a 500-secret `once` run (bench/once-vault.mjs), for calls
 * that need none of it.
 */
export class VaultHttp {
  readonly #base: URL;
  readonly #agent: HttpAgent | HttpsAgent;
  readonly #secure: boolean;

  constructor(private readonly options: VaultHttpOptions) {
    this.#base = new URL(options.address.endsWith('/') ? options.address : `${options.address}/`);
    this.#secure = this.#base.protocol === 'https:';
    const pool = { keepAlive: true, maxSockets: options.maxConnections };
    this.#agent = this.#secure ? new HttpsAgent({ ...pool, ...options.tls }) : new HttpAgent(pool);
  }

  /** The agent, shared with node-vault's login calls so that both use the same TLS settings and pool. */
  get agent(): HttpAgent | HttpsAgent {
    return this.#agent;
  }

  /** `path` is relative to /v1/ and may carry a query string. */
  request(method: string, path: string, token: string | undefined, body?: object): Promise<VaultResponse> {
    const url = new URL(`v1/${path}`, this.#base);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (token) headers['x-vault-token'] = token;
    if (this.options.namespace) headers['x-vault-namespace'] = this.options.namespace;
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    const send = this.#secure ? httpsRequest : httpRequest;
    return new Promise<VaultResponse>((resolve, reject) => {
      const req = send(url, { method, headers, agent: this.#agent, timeout: this.options.timeoutMs }, (res) => {
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
            reject(new VaultHttpError(status, errorText(text, res.statusMessage)));
          }
        }, reject);
      });
      req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${this.options.timeoutMs} ms`), { code: 'ETIMEDOUT' })));
      req.on('error', reject);
      req.end(payload);
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}

function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (chunk: Buffer) => chunks.push(chunk));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
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
