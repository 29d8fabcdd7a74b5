import { stat } from 'node:fs/promises';
import { readTextBounded } from '../../bounded-read.js';
import type { RetryPolicy } from '../../config/types.js';
import type { VaultAuthConfig } from './provider.js';
import { SidecarError, toSidecarError } from '../../errors.js';
import { retryWithBackoff } from '../../retry.js';
import { writeAudit } from '../../log/audit.js';
import { errorFields } from '../../log/error-fields.js';
import type { Logger } from '../../log/logger.js';
import { planRefresh, type RefreshPolicy } from '../../lease/refresh-schedule.js';
import { setSafeTimeout, type SafeTimer } from '../../timer.js';
import type { CacheRead, CachedToken } from './vault-cache.js';

/** How often a token file is checked for a new token (another agent may rewrite it at any time). */
const TOKEN_FILE_CHECK_MS = 1_000;
/** A login credential larger than this is refused unread: a service-account JWT is about 1 KiB. */
const MAX_CREDENTIAL_BYTES = 64 * 1024;
/** How long the answer to "is this refused token still alive?" serves a burst of refusals. */
const ALIVE_CHECK_MS = 1_000;

/** The `auth` part of a login or renew-self answer. */
export interface VaultAuthAnswer {
  readonly client_token?: string;
  readonly accessor?: string;
  readonly lease_duration?: number;
  readonly renewable?: boolean;
}

export interface TokenManagerDependencies {
  /** POSTs to a path without a token (logins) or with the given one (renew-self); returns `auth`. */
  readonly post: (path: string, body: object, token?: string) => Promise<VaultAuthAnswer | undefined>;
  /**
   * GET auth/token/lookup-self: the token's remaining TTL in seconds and whether it can be renewed; both
   * undefined when Vault knows the token but its policies do not let it look itself up. Rejects when the token
   * is not valid (a DENIED error) or the server cannot answer.
   */
  readonly lookupSelf: (token: string) => Promise<{ ttl: number | undefined; renewable: boolean | undefined; accessor?: string | undefined }>;
  /** POST auth/token/revoke-self with the given token. */
  readonly revokeSelf: (token: string) => Promise<void>;
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
  /** Whether leases issued under token `generation` are still held (they die when it is revoked). */
  readonly holdsLeases?: (generation: number) => boolean;
  /** cache_dir: a login token handed from `once` to `run` and across restarts. None: every process logs in. */
  readonly handover?: TokenHandover | undefined;
}

/** Where a login token is kept between runs (the backend's cache). */
export interface TokenHandover {
  read(): Promise<CacheRead<CachedToken>>;
  save(entry: CachedToken): Promise<void>;
  drop(): Promise<void>;
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
  /** When the token in use ends by its own TTL (epoch ms), as its login or last renewal said; undefined: unknown. */
  #expiresAt: number | undefined;
  /** When a refusal last led to a new login: at most one per backoff period, whatever the refusals. */
  #deniedReloginAt = -Infinity;
  /** A login token being replaced while it may still live, to revoke once the new one is in hand. */
  #previous: string | undefined;
  /** Revocations of replaced tokens, waiting for the margin in which their leases are replaced. */
  readonly #revocations = new Set<SafeTimer>();
  /** The accessor of the login token in use: leases record which token issued them. */
  #accessor: string | undefined;
  /** Whether the token an earlier run left has been looked at (once per process). */
  #adoptionTried = false;

  constructor(
    private readonly auth: VaultAuthConfig,
    private readonly deps: TokenManagerDependencies,
  ) {}

  async token(): Promise<string> {
    const auth = this.auth;
    if (auth.method === 'token') {
      // A token file is renewed by whoever writes it; a given token is ours to keep alive.
      if (auth.tokenFile !== undefined) return this.#fromFile(auth.tokenFile);
      // A token pasted with its newline (echo … > file, a Kubernetes secret) is the same token.
      const token = (auth.token ?? this.deps.env['VAULT_TOKEN'])?.trim();
      if (!token) throw new SidecarError('SIDECAR_ERR_BACKEND_DENIED', 'no Vault token: set VAULT_TOKEN, or configure an auth block in the backend');
      if (this.deps.keepAlive && this.#staticWatched !== token) {
        this.#staticWatched = token;
        void this.#watchStatic(token);
      }
      return token;
    }
    if (this.#token !== undefined) return this.#token;
    this.#login ??= this.#adoptOrLogIn().finally(() => {
      this.#login = undefined;
    });
    return this.#login;
  }

  /** The token in use now; a lease records it to know whether it dies with a token. */
  get generation(): number {
    return this.#generation;
  }

  /** The accessor of the login token in use (undefined for token auth): what a cached lease records. */
  get accessor(): string | undefined {
    return this.auth.method === 'token' ? undefined : this.#accessor;
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
      this.#aliveCheck = { token: denied, at: now, alive: this.#isAlive(denied) };
    }
    if (await this.#aliveCheck.alive) return false;
    // Replaced already (by the first refusal of a burst): try again with its successor.
    if (this.#token !== denied) return true;
    if (this.auth.method !== 'token') {
      // However many paths are refused, a new login at most once per backoff period: never a storm.
      if (now - this.#deniedReloginAt < this.deps.retry.maxBackoffMs) return false;
      this.#deniedReloginAt = now;
    }
    this.#ending ??= { generation: this.#generation, reason: 'the token was revoked or has expired' };
    if (this.auth.method === 'token') this.#checkedAt = -Infinity;
    else this.#token = undefined;
    return true;
  }

  close(): void {
    this.#closed = true;
    this.#abort.abort();
    this.#timer?.clear();
    for (const timer of this.#revocations) timer.clear();
    this.#revocations.clear();
  }

  /**
   * Whether a refused token still lives. Vault says so to lookup-self, or by refusing it as a policy matter (a
   * token without the default policy); a token it does not know is gone. When Vault cannot be asked, a token that
   * should still be alive by its own TTL is taken to be.
   */
  async #isAlive(token: string): Promise<boolean> {
    try {
      await this.deps.lookupSelf(token);
      return true;
    } catch (error) {
      if (toSidecarError(error).code === 'SIDECAR_ERR_BACKEND_DENIED') return false;
      return token === this.#token && this.#expiresAt !== undefined && this.#expiresAt > (this.deps.now ?? Date.now)();
    }
  }

  /**
   * Learns the given token's TTL, and keeps it renewed while Vault allows. A failed lookup (a server starting,
   * sealed, overloaded) is retried with backoff until it answers; each failure is audited, so readiness and the
   * metrics show it until then.
   */
  async #watchStatic(token: string): Promise<void> {
    const { logger, backend, retry, now = Date.now } = this.deps;
    const path = 'auth/token/lookup-self';
    try {
      const { ttl, renewable } = await retryWithBackoff(
        async () => {
          const started = now();
          try {
            const answer = await this.deps.lookupSelf(token);
            writeAudit(logger, { event: 'auth.lookup', backend, path, outcome: 'ok', durationMs: now() - started });
            return answer;
          } catch (error) {
            const coded = toSidecarError(error, 'SIDECAR_ERR_BACKEND_UNAVAILABLE');
            writeAudit(logger, { event: 'auth.lookup', backend, path, outcome: 'error', durationMs: now() - started, errorCode: coded.code });
            throw coded;
          }
        },
        {
          policy: retry,
          attempts: 0,
          signal: this.#abort.signal,
          random: this.deps.random ?? Math.random,
          onRetry: (error, attempt, delayMs) =>
            logger.warn(
              { attempt, retryInMs: delayMs, error: errorFields(error) },
              "cannot learn the Vault token's TTL yet (it is not renewed until then); retrying with backoff",
            ),
        },
      );
      if (this.#staticWatched !== token) return;
      if (ttl === undefined) {
        logger.warn('the Vault token may not look itself up (no default policy); it will not be renewed');
        return;
      }
      this.#token = token;
      this.#schedule({ lease_duration: ttl, renewable: renewable ?? false }, now());
    } catch (error) {
      if (this.#closed) return;
      // Refused (a token that is gone): it is still used as given, just not renewed by us.
      logger.warn({ error: errorFields(error) }, 'cannot look the Vault token up; it will not be renewed');
    }
  }

  async #fromFile(file: string): Promise<string> {
    if (this.#token !== undefined && (this.deps.now ?? Date.now)() - this.#checkedAt < TOKEN_FILE_CHECK_MS) return this.#token;
    this.#checkedAt = (this.deps.now ?? Date.now)();
    try {
      const info = await stat(file);
      const current = this.#token;
      if (current !== undefined && info.mtimeMs === this.#fileMtime) return current;
      const token = await readCredential(file, 'Vault token');
      this.#fileMtime = info.mtimeMs;
      if (token !== this.#token) this.#replaceToken(token);
      return token;
    } catch (error) {
      if (error instanceof SidecarError) throw error;
      // Not there yet (an agent will write it): retryable, like an unreachable server.
      throw new SidecarError(
        'SIDECAR_ERR_BACKEND_UNAVAILABLE',
        `cannot read the Vault token file ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
  }

  async #adoptOrLogIn(): Promise<string> {
    if (this.deps.handover && !this.#adoptionTried) {
      this.#adoptionTried = true;
      const adopted = await this.#adopt(this.deps.handover);
      if (adopted !== undefined) return adopted;
    }
    return this.#logIn();
  }

  /**
   * The token an earlier run (`once`, or this sidecar before a restart) left, if Vault says it is alive with more
   * than the margin left. Anything else is dropped with an audit record saying why, and a token others could have
   * read is revoked first: it may have been copied.
   */
  async #adopt(handover: TokenHandover): Promise<string | undefined> {
    const { logger, backend, now = Date.now } = this.deps;
    const started = now();
    const path = 'auth/token/lookup-self';
    const drop = async (errorCode: string, reason: string) => {
      writeAudit(logger, { event: 'auth.adopt', backend, path, outcome: 'error', durationMs: now() - started, errorCode, reason });
      logger.warn({ errorCode, reason }, 'not adopting the cached Vault token; logging in anew');
      await handover.drop();
      return undefined;
    };
    const read = await handover.read();
    if (read.refused) {
      logger.warn({ error: errorFields(read.refused) }, 'the cached Vault token is refused');
      if (read.exposed) {
        await this.deps.revokeSelf(read.exposed.token).then(
          () => logger.warn('revoked the cached Vault token others could have read'),
          (error: unknown) =>
            logger.warn({ error: errorFields(toSidecarError(error, 'SIDECAR_ERR_BACKEND_UNAVAILABLE')) }, 'could not revoke the exposed cached Vault token'),
        );
      }
      return drop(read.refused.code, read.exposed ? 'the cache file could be read by others: the token was revoked' : 'the cache file was refused');
    }
    const cached = read.entry;
    if (!cached) return undefined;
    let answer: Awaited<ReturnType<TokenManagerDependencies['lookupSelf']>>;
    try {
      answer = await this.deps.lookupSelf(cached.token);
    } catch (error) {
      const coded = toSidecarError(error, 'SIDECAR_ERR_BACKEND_UNAVAILABLE');
      if (coded.code === 'SIDECAR_ERR_BACKEND_DENIED') return drop(coded.code, 'the token was revoked or has expired');
      // Vault cannot say now: look again at the next try rather than log in beside a token that may live.
      this.#adoptionTried = false;
      throw coded;
    }
    // A token that may not look itself up is alive; what is left of it is what the cache says.
    const leftMs = answer.ttl !== undefined ? answer.ttl * 1000 : cached.expiresAt === undefined ? 0 : cached.expiresAt - now();
    const noTtl = answer.ttl === 0 || (answer.ttl === undefined && cached.expiresAt === undefined);
    if (!noTtl && leftMs <= (this.deps.refreshPolicy?.marginMs ?? 0))
      return drop('SIDECAR_ERR_BACKEND_INACTIVE', 'the token has less than rotation_margin left');
    writeAudit(logger, { event: 'auth.adopt', backend, path, outcome: 'ok', durationMs: now() - started });
    logger.info(
      { ttlSeconds: noTtl ? 0 : Math.round(leftMs / 1000), renewable: answer.renewable ?? cached.renewable },
      'adopted the Vault token an earlier run left',
    );
    this.#accessor = answer.accessor ?? cached.accessor;
    this.#replaceToken(cached.token);
    this.#schedule({ lease_duration: noTtl ? 0 : Math.floor(leftMs / 1000), renewable: answer.renewable ?? cached.renewable }, now());
    return cached.token;
  }

  /** Hands the token to the next run (cache_dir); a failure costs the next run a login, nothing more. */
  async #save(answer: VaultAuthAnswer, at: number): Promise<void> {
    const token = this.#token;
    if (!this.deps.handover || token === undefined) return;
    const ttlMs = (answer.lease_duration ?? 0) * 1000;
    await this.deps.handover
      .save({ token, accessor: this.#accessor, expiresAt: ttlMs > 0 ? at + ttlMs : undefined, renewable: answer.renewable ?? false })
      .catch((error: unknown) =>
        this.deps.logger.warn(
          { error: errorFields(toSidecarError(error, 'SIDECAR_ERR_OUTPUT_WRITE')) },
          'cannot cache the Vault token; the next run logs in anew',
        ),
      );
  }

  async #logIn(): Promise<string> {
    const auth = this.auth;
    if (auth.method === 'token') throw new Error('token auth does not log in');
    const path = `auth/${auth.mount}/login`;
    const { logger, backend, now = Date.now } = this.deps;
    const started = now();
    try {
      const answer = await this.deps.post(path, await this.#loginBody());
      if (!answer?.client_token) throw new SidecarError('SIDECAR_ERR_BACKEND_MALFORMED', `${path} answered without a token`);
      writeAudit(logger, { event: 'auth.login', backend, path, outcome: 'ok', durationMs: now() - started });
      logger.info({ method: auth.method, ttlSeconds: answer.lease_duration, renewable: answer.renewable }, 'vault login');
      this.#accessor = answer.accessor;
      this.#replaceToken(answer.client_token);
      this.#schedule(answer, now());
      // Written before the token is used: a `once` that ends right after must have handed it over.
      await this.#save(answer, now());
      return answer.client_token;
    } catch (error) {
      const coded = loginError(toSidecarError(error, 'SIDECAR_ERR_BACKEND_UNAVAILABLE'), auth);
      writeAudit(logger, { event: 'auth.login', backend, path, outcome: 'error', durationMs: now() - started, errorCode: coded.code });
      throw coded;
    }
  }

  #replaceToken(token: string): void {
    const previous = this.#previous;
    this.#previous = undefined;
    const previousHeldLeases = this.deps.holdsLeases?.(this.#generation) ?? false;
    this.#token = token;
    this.#generation++;
    const ending = this.#ending;
    this.#ending = undefined;
    if (ending) this.deps.onTokenEnding?.(ending.generation, ending.reason);
    if (previous !== undefined && previous !== token) this.#revokeLater(previous, previousHeldLeases);
  }

  /**
   * A login token we no longer use is revoked (best effort): at once, or, when leases it issued were still held,
   * once they had the margin to be replaced (they end with it). Vault would otherwise keep it, and whatever it
   * may read, alive until its TTL runs out.
   */
  #revokeLater(token: string, heldLeases: boolean): void {
    const timer = setSafeTimeout(
      () => {
        this.#revocations.delete(timer);
        if (this.#closed) return;
        this.deps.revokeSelf(token).then(
          () => this.deps.logger.info('revoked the Vault token the sidecar stopped using'),
          (error: unknown) =>
            this.deps.logger.debug(
              { error: errorFields(toSidecarError(error, 'SIDECAR_ERR_BACKEND_UNAVAILABLE')) },
              'could not revoke the replaced Vault token (it may be gone already)',
            ),
        );
      },
      heldLeases ? (this.deps.refreshPolicy?.marginMs ?? 0) : 0,
    ).unref();
    this.#revocations.add(timer);
  }

  /** The credentials are read at each login: an orchestrator may deliver a new secret_id or JWT meanwhile. */
  async #loginBody(): Promise<object> {
    const auth = this.auth;
    if (auth.method === 'approle') {
      const roleId = auth.roleId ?? (await readCredential(auth.roleIdFile ?? '', 'AppRole role_id'));
      const secretId = auth.secretIdFile === undefined ? undefined : await readCredential(auth.secretIdFile, 'AppRole secret_id');
      return secretId === undefined ? { role_id: roleId } : { role_id: roleId, secret_id: secretId };
    }
    if (auth.method === 'jwt' || auth.method === 'kubernetes') return { role: auth.role, jwt: await readCredential(auth.jwtFile, `${auth.method} token`) };
    throw new Error('token auth does not log in');
  }

  /** `atMaxTtl`: renewals no longer extend the token, so the next step is a login at `fraction` of what is left. */
  #schedule(answer: VaultAuthAnswer, issuedAt: number, atMaxTtl = false): void {
    this.#timer?.clear();
    const ttlMs = (answer.lease_duration ?? 0) * 1000;
    this.#expiresAt = ttlMs > 0 ? issuedAt + ttlMs : undefined;
    if (this.#closed || !this.deps.keepAlive || ttlMs <= 0) return; // a token without a TTL never expires
    const lifetime = {
      kind: 'lease',
      leaseId: 'token',
      ttlMs,
      renewable: answer.renewable ?? false,
      maxExpiresAt: atMaxTtl ? issuedAt + ttlMs : undefined,
    } as const;
    const plan = planRefresh(lifetime, issuedAt, (this.deps.random ?? Math.random)(), this.deps.refreshPolicy);
    if (plan.action === 'none') return;
    this.#timer = setSafeTimeout(
      () => void (plan.action === 'renew' ? this.#renew(ttlMs) : this.#relogin('the token cannot be renewed further')),
      Math.max(0, plan.at - (this.deps.now ?? Date.now)()),
    );
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
      if (this.auth.method !== 'token') await this.#save(answer ?? {}, now());
    } catch (error) {
      const coded = toSidecarError(error, 'SIDECAR_ERR_BACKEND_UNAVAILABLE');
      writeAudit(logger, { event: 'auth.renew', backend, path: 'auth/token/renew-self', outcome: 'error', durationMs: now() - started, errorCode: coded.code });
      // A given token that Vault could not renew just now: learn what is left of it again (with backoff), and
      // renew it on that schedule.
      if (this.auth.method === 'token' && coded.retryable && this.#staticWatched === token) return void this.#watchStatic(token);
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
    // It may live on until its max TTL: revoked once its successor is in hand.
    this.#previous = this.#token;
    this.#token = undefined;
    try {
      // A refusal here is retried too: the credentials worked a moment ago, and Vault says "permission denied"
      // alike when it cannot reach what vouches for them (Kubernetes auth with the API server down, a JWKS
      // endpoint) and when a rotated credential is not in place yet. The files rendered stay as they are.
      await retryWithBackoff(
        () =>
          this.token().catch((error: unknown) => {
            throw retryableRefusal(error);
          }),
        {
          policy: retry,
          attempts: 0,
          signal: this.#abort.signal,
          onRetry: (error, attempt, delayMs) =>
            logger.warn({ attempt, retryInMs: delayMs, error: errorFields(error) }, 'vault login failed, retrying with backoff'),
        },
      );
    } catch (error) {
      if (!this.#closed) logger.error({ error: errorFields(error) }, 'vault login failed');
    }
  }
}

/** A refused login names the role it asked for: the one thing the operator must compare with Vault's binding. */
function loginError(error: SidecarError, auth: VaultAuthConfig): SidecarError {
  if (error.code !== 'SIDECAR_ERR_BACKEND_DENIED' || !('role' in auth)) return error;
  const hint =
    auth.method === 'kubernetes'
      ? `role "${auth.role}" must be bound to this pod's service account and namespace (bound_service_account_names, bound_service_account_namespaces), and its audience must be the token's`
      : (error.hint ?? 'check the role and the JWT');
  return new SidecarError(error.code, `${error.message}, logging in as role "${auth.role}"`, { hint, cause: error, retryable: error.retryable });
}

function retryableRefusal(error: unknown): SidecarError {
  if (!(error instanceof SidecarError)) return toSidecarError(error, 'SIDECAR_ERR_BACKEND_UNAVAILABLE');
  if (error.code !== 'SIDECAR_ERR_BACKEND_DENIED' || error.retryable) return error;
  return new SidecarError(error.code, error.message, { hint: error.hint ?? 'check the login credentials', cause: error.cause, retryable: true });
}

/** A credential file's text, trimmed; read at each use, since whoever writes it may rotate it at any time. */
async function readCredential(file: string, what: string): Promise<string> {
  let text: string;
  try {
    // Bounded: a credential is a few KiB (a service-account JWT about 1), never worth holding a huge file.
    text = (await readTextBounded(file, { maxBytes: MAX_CREDENTIAL_BYTES })).trim();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    if (code === 'EFBIG') {
      throw new SidecarError('SIDECAR_ERR_BACKEND_MALFORMED', `the ${what} file ${file} is larger than ${MAX_CREDENTIAL_BYTES / 1024} KiB`, {
        hint: 'point the option at the credential itself, not at a bundle or a log',
        retryable: false,
      });
    }
    throw new SidecarError('SIDECAR_ERR_BACKEND_UNAVAILABLE', `cannot read the ${what} file ${file} (${code})`);
  }
  // Not sent: Vault would only answer with a vaguer refusal. Retryable: whoever writes the file may not be done.
  if (!text) throw new SidecarError('SIDECAR_ERR_BACKEND_UNAVAILABLE', `the ${what} file ${file} is empty`);
  return text;
}
