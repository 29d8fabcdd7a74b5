import { readFile, stat } from 'node:fs/promises';
import type { RetryPolicy } from '../../config/types.js';
import type { VaultAuthConfig } from './provider.js';
import { SidecarError, toSidecarError } from '../../errors.js';
import { retryWithBackoff } from '../../retry.js';
import { writeAudit } from '../../log/audit.js';
import { errorFields } from '../../log/error-fields.js';
import type { Logger } from '../../log/logger.js';
import { planRefresh, type RefreshPolicy } from '../../lease/refresh-schedule.js';
import { setSafeTimeout, type SafeTimer } from '../../timer.js';

/** How often a token file is checked for a new token (another agent may rewrite it at any time). */
const TOKEN_FILE_CHECK_MS = 1_000;
/** How long the answer to "is this refused token still alive?" serves a burst of refusals. */
const ALIVE_CHECK_MS = 1_000;

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
  /**
   * A token is gone or about to go (revoked, or at its max TTL), and a new one is in hand. Vault revokes every
   * lease a token created when the token ends, so what `generation` issued must be fetched again, now, while the
   * app can still switch. Not called when a token is replaced while the old one lives on: its leases are simply
   * renewed with the new token.
   */
  readonly onTokenEnding?: (generation: number, reason: string) => void;
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
  #timer: SafeTimer | undefined;
  #closed = false;
  readonly #abort = new AbortController();
  /** A token given in the config or VAULT_TOKEN, once its renewal has been looked into. */
  #staticWatched: string | undefined;
  /** Counts tokens: which one issued a lease, without keeping the token itself. */
  #generation = 0;
  /** A token that is ending, reported once its successor is in hand. */
  #ending: { generation: number; reason: string } | undefined;
  /** One lookup for a burst of refusals of the same token. */
  #aliveCheck: { token: string; at: number; alive: Promise<boolean> } | undefined;

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

  /** The token in use now; a lease records it to know whether it dies with a token. */
  get generation(): number {
    return this.#generation;
  }

  /**
   * A request made with `denied` was refused: can a fresh token help? A 403 is either the policy saying no or a
   * token that is gone (revoked, expired); only a lookup of the token itself tells them apart. A token that is
   * gone is replaced (the file re-read, or a new login) and reported as ending.
   */
  async afterDenied(denied: string): Promise<boolean> {
    if (this.auth.method === 'token' && this.auth.tokenFile === undefined) return false;
    const now = (this.deps.now ?? Date.now)();
    if (this.#aliveCheck?.token !== denied || now - this.#aliveCheck.at > ALIVE_CHECK_MS) {
      this.#aliveCheck = { token: denied, at: now, alive: this.deps.lookupSelf(denied).then(() => true, () => false) };
    }
    if (await this.#aliveCheck.alive) return false;
    if (this.#token === denied) {
      this.#ending ??= { generation: this.#generation, reason: 'the token was revoked or has expired' };
      if (this.auth.method === 'token') this.#checkedAt = -Infinity;
      else this.#token = undefined;
    }
    return true;
  }

  close(): void {
    this.#closed = true;
    this.#abort.abort();
    this.#timer?.clear();
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
      const current = this.#token;
      if (current !== undefined && info.mtimeMs === this.#fileMtime) return current;
      const token = (await readFile(file, 'utf8')).trim();
      if (!token) throw new SidecarError('SIDECAR_ERR_BACKEND_UNAVAILABLE', `Vault token file ${file} is empty`);
      this.#fileMtime = info.mtimeMs;
      if (token !== this.#token) this.#replaceToken(token);
      return token;
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
      this.#replaceToken(answer.client_token);
      this.#schedule(answer, now());
      return answer.client_token;
    } catch (error) {
      const coded = toSidecarError(error, 'SIDECAR_ERR_BACKEND_UNAVAILABLE');
      writeAudit(logger, { event: 'auth.login', backend, path, outcome: 'error', durationMs: now() - started, errorCode: coded.code });
      throw coded;
    }
  }

  #replaceToken(token: string): void {
    this.#token = token;
    this.#generation++;
    const ending = this.#ending;
    this.#ending = undefined;
    if (ending) this.deps.onTokenEnding?.(ending.generation, ending.reason);
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

  /** `atMaxTtl`: renewals no longer extend the token, so the next step is a login at `fraction` of what is left. */
  #schedule(answer: VaultAuthAnswer, issuedAt: number, atMaxTtl = false): void {
    this.#timer?.clear();
    const ttlMs = (answer.lease_duration ?? 0) * 1000;
    if (this.#closed || !this.deps.keepAlive || ttlMs <= 0) return; // a token without a TTL never expires
    const lifetime = { kind: 'lease', leaseId: 'token', ttlMs, renewable: answer.renewable ?? false, maxExpiresAt: atMaxTtl ? issuedAt + ttlMs : undefined } as const;
    const plan = planRefresh(lifetime, issuedAt, (this.deps.random ?? Math.random)(), this.deps.refreshPolicy);
    if (plan.action === 'none') return;
    this.#timer = setSafeTimeout(() => void (plan.action === 'renew' ? this.#renew(ttlMs) : this.#relogin('the token cannot be renewed further')), Math.max(0, plan.at - (this.deps.now ?? Date.now)()));
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
      // At max TTL, Vault renews for less than before: log in ahead of the end instead of renewing again, early
      // enough that the leases this token issued (which end with it) can be replaced before it goes.
      const ttlMs = (answer?.lease_duration ?? 0) * 1000;
      this.#schedule(answer ?? {}, now(), ttlMs < previousTtlMs);
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
    // The old token is at its max TTL, or could not be renewed: what it issued ends with it.
    this.#ending ??= { generation: this.#generation, reason };
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
