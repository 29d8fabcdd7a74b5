import { readFile, stat } from 'node:fs/promises';
import type { RetryPolicy, VaultAuthConfig } from '../../config/types.js';
import { SidecarError, toSidecarError } from '../../errors.js';
import { retryWithBackoff } from '../../retry.js';
import { writeAudit } from '../../log/audit.js';
import { errorFields } from '../../log/error-fields.js';
import type { Logger } from '../../log/logger.js';
import { planRefresh, type RefreshPolicy } from '../../lease/refresh-schedule.js';

/** How often a token file is checked for a new token (another agent may rewrite it at any time). */
const TOKEN_FILE_CHECK_MS = 1_000;

/** The `auth` part of a login or renew-self answer. */
export interface VaultAuthAnswer {
  readonly client_token?: string;
  readonly lease_duration?: number;
  readonly renewable?: boolean;
}

export interface TokenManagerDependencies {
  /** POSTs to a path without a token (logins) or with the given one (renew-self); returns `auth`. */
  readonly post: (path: string, body: object, token?: string) => Promise<VaultAuthAnswer | undefined>;
  /** GET auth/token/lookup-self: the token's remaining TTL in seconds and whether it can be renewed. */
  readonly lookupSelf: (token: string) => Promise<{ ttl: number; renewable: boolean }>;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly logger: Logger;
  readonly backend: string;
  readonly retry: RetryPolicy;
  readonly now?: () => number;
  readonly random?: () => number;
  readonly refreshPolicy?: RefreshPolicy;
  /** Renew tokens (run mode). A `once` run is over long before a token needs it, and saves the requests. */
  readonly keepAlive: boolean;
}

/**
 * The Vault token. Token auth: given, from VAULT_TOKEN, or from a file re-read when it changes. Login methods
 * (AppRole, JWT, Kubernetes): logs in on first use, renews the token at two thirds of its TTL, and logs in again
 * (with backoff and jitter) when renewal fails or can no longer extend it, or when a request finds it revoked.
 */
export class TokenManager {
  #token: string | undefined;
  #login: Promise<string> | undefined;
  #fileMtime = -1;
  #checkedAt = -Infinity;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #abort = new AbortController();
  /** A token given in the config or VAULT_TOKEN, once its renewal has been looked into. */
  #staticWatched: string | undefined;

  constructor(
    private readonly auth: VaultAuthConfig,
    private readonly deps: TokenManagerDependencies,
  ) {}

  async token(): Promise<string> {
    const auth = this.auth;
    if (auth.method === 'token') {
      // A token file is renewed by whoever writes it; a given token is ours to keep alive.
      if (auth.tokenFile !== undefined) return this.#fromFile(auth.tokenFile);
      const token = auth.token ?? this.deps.env['VAULT_TOKEN'];
      if (!token) throw new SidecarError('SIDECAR_ERR_BACKEND_DENIED', 'no Vault token: set VAULT_TOKEN, or configure an auth block in the backend');
      if (this.deps.keepAlive && this.#staticWatched !== token) {
        this.#staticWatched = token;
        void this.#watchStatic(token);
      }
      return token;
    }
    if (this.#token !== undefined) return this.#token;
    this.#login ??= this.#logIn().finally(() => {
      this.#login = undefined;
    });
    return this.#login;
  }

  /** A request was refused: can a fresh token help? Re-reads a token file, or logs in again. */
  afterDenied(): boolean {
    if (this.auth.method === 'token') {
      if (this.auth.tokenFile === undefined) return false;
      this.#checkedAt = -Infinity;
      return true;
    }
    this.#token = undefined;
    return true;
  }

  close(): void {
    this.#closed = true;
    this.#abort.abort();
    clearTimeout(this.#timer);
  }

  /** Looks the given token up once, and keeps it renewed while Vault allows. */
  async #watchStatic(token: string): Promise<void> {
    try {
      const { ttl, renewable } = await this.deps.lookupSelf(token);
      this.#token = token;
      this.#schedule({ lease_duration: ttl, renewable }, (this.deps.now ?? Date.now)());
    } catch (error) {
      // Lookup may be denied by policy: the token is still used, just not renewed by us.
      this.deps.logger.warn({ error: errorFields(error) }, 'cannot look the Vault token up; it will not be renewed');
    }
  }

  async #fromFile(file: string): Promise<string> {
    if (this.#token !== undefined && (this.deps.now ?? Date.now)() - this.#checkedAt < TOKEN_FILE_CHECK_MS) return this.#token;
    this.#checkedAt = (this.deps.now ?? Date.now)();
    try {
      const info = await stat(file);
      if (info.mtimeMs !== this.#fileMtime || this.#token === undefined) {
        const token = (await readFile(file, 'utf8')).trim();
        if (!token) throw new SidecarError('SIDECAR_ERR_BACKEND_UNAVAILABLE', `Vault token file ${file} is empty`);
        this.#token = token;
        this.#fileMtime = info.mtimeMs;
      }
      return this.#token;
    } catch (error) {
      if (error instanceof SidecarError) throw error;
      // Not there yet (an agent will write it): retryable, like an unreachable server.
      throw new SidecarError('SIDECAR_ERR_BACKEND_UNAVAILABLE', `cannot read Vault token file ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }

  async #logIn(): Promise<string> {
    const auth = this.auth;
    if (auth.method === 'token') throw new Error('token auth does not log in');
    const path = `auth/${auth.mount}/login`;
    const body = await this.#loginBody();
    const { logger, backend, now = Date.now } = this.deps;
    const started = now();
    try {
      const answer = await this.deps.post(path, body);
      if (!answer?.client_token) throw new SidecarError('SIDECAR_ERR_BACKEND_MALFORMED', `${path} answered without a token`);
      writeAudit(logger, { event: 'auth.login', backend, path, outcome: 'ok', durationMs: now() - started });
      logger.info({ method: auth.method, ttlSeconds: answer.lease_duration, renewable: answer.renewable }, 'vault login');
      this.#token = answer.client_token;
      this.#schedule(answer, now());
      return answer.client_token;
    } catch (error) {
      const coded = toSidecarError(error, 'SIDECAR_ERR_BACKEND_UNAVAILABLE');
      writeAudit(logger, { event: 'auth.login', backend, path, outcome: 'error', durationMs: now() - started, errorCode: coded.code });
      throw coded;
    }
  }

  /** The credentials are read at each login: an orchestrator may deliver a new secret_id or JWT meanwhile. */
  async #loginBody(): Promise<object> {
    const auth = this.auth;
    const read = async (file: string, what: string) => {
      try {
        return (await readFile(file, 'utf8')).trim();
      } catch (error) {
        throw new SidecarError('SIDECAR_ERR_BACKEND_UNAVAILABLE', `cannot read the ${what} file ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
      }
    };
    if (auth.method === 'approle') {
      const roleId = auth.roleId ?? (await read(auth.roleIdFile ?? '', 'AppRole role_id'));
      const secretId = auth.secretIdFile === undefined ? undefined : await read(auth.secretIdFile, 'AppRole secret_id');
      return secretId === undefined ? { role_id: roleId } : { role_id: roleId, secret_id: secretId };
    }
    if (auth.method === 'jwt' || auth.method === 'kubernetes') return { role: auth.role, jwt: await read(auth.jwtFile, `${auth.method} token`) };
    throw new Error('token auth does not log in');
  }

  #schedule(answer: VaultAuthAnswer, issuedAt: number): void {
    clearTimeout(this.#timer);
    const ttlMs = (answer.lease_duration ?? 0) * 1000;
    if (this.#closed || !this.deps.keepAlive || ttlMs <= 0) return; // a token without a TTL never expires
    const plan = planRefresh({ kind: 'lease', leaseId: 'token', ttlMs, renewable: answer.renewable ?? false }, issuedAt, (this.deps.random ?? Math.random)(), this.deps.refreshPolicy);
    if (plan.action === 'none') return;
    this.#timer = setTimeout(() => void (plan.action === 'renew' ? this.#renew(ttlMs) : this.#relogin('the token cannot be renewed further')), Math.max(0, plan.at - (this.deps.now ?? Date.now)()));
    // Renewal must not keep a finished `once` alive.
    this.#timer.unref();
  }

  async #renew(previousTtlMs: number): Promise<void> {
    const token = this.#token;
    if (this.#closed || token === undefined) return;
    const { logger, backend, now = Date.now } = this.deps;
    const started = now();
    try {
      const answer = await this.deps.post('auth/token/renew-self', {}, token);
      writeAudit(logger, { event: 'auth.renew', backend, path: 'auth/token/renew-self', outcome: 'ok', durationMs: now() - started });
      // At max TTL, Vault renews for less than before: log in ahead of the end instead of renewing again.
      const ttlMs = (answer?.lease_duration ?? 0) * 1000;
      if (ttlMs < previousTtlMs) this.#schedule({ ...answer, renewable: false }, now());
      else this.#schedule(answer ?? {}, now());
    } catch (error) {
      const coded = toSidecarError(error, 'SIDECAR_ERR_BACKEND_UNAVAILABLE');
      writeAudit(logger, { event: 'auth.renew', backend, path: 'auth/token/renew-self', outcome: 'error', durationMs: now() - started, errorCode: coded.code });
      await this.#relogin(`renewal failed (${coded.code})`);
    }
  }

  async #relogin(reason: string): Promise<void> {
    if (this.#closed) return;
    const { logger, retry } = this.deps;
    if (this.auth.method === 'token') {
      // Nothing to log in with: say so while there is still time to act.
      logger.error({ reason }, 'the Vault token cannot be kept alive; give the sidecar a new one (or an auth method) before it expires');
      return;
    }
    logger.info({ reason }, 'vault login again');
    this.#token = undefined;
    try {
      await retryWithBackoff(() => this.token(), {
        policy: retry,
        attempts: 0,
        signal: this.#abort.signal,
        onRetry: (error, attempt, delayMs) => logger.warn({ attempt, retryInMs: delayMs, error: errorFields(error) }, 'vault login failed, retrying with backoff'),
      });
    } catch (error) {
      if (!this.#closed) logger.error({ error: errorFields(error) }, 'vault login failed');
    }
  }
}
