import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { RetryPolicy } from '../../config/types.js';
import type { AtomicFileWriter } from '../provider.js';
import type { VaultBackendConfig } from './provider.js';
import { formatDuration } from '../../config/duration.js';
import { SidecarError, toSidecarError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import { Sealed } from '../../sealed.js';
import { timeOrder } from '../../source-version.js';
import { fingerprint } from '../fingerprint.js';
import type { CloseOptions, FetchedSecret, FetchContext, SecretBackend } from '../types.js';
import { writeAudit } from '../../log/audit.js';
import { DEFAULT_REFRESH_POLICY, type RefreshPolicy } from '../../lease/refresh-schedule.js';
import { errorFields } from '../../log/error-fields.js';
import { VaultCache } from './vault-cache.js';
import { MountCache, kvListPath, kvReadPath, type MountInfo } from './kv-mounts.js';
import { TokenManager, type VaultAuthAnswer } from './token-manager.js';
import { vaultError } from './vault-errors.js';
import { boundedCall, VaultHttp, VaultHttpError, type VaultHttpOptions, type VaultResponse } from './vault-http.js';
import { deadlineSignal, setSafeTimeout, type SafeTimer } from '../../timer.js';
import { linkSignals } from '../bounded-call.js';
import { untilAborted } from '../until-aborted.js';

interface NodeVaultClient {
  request(options: {
    path: string;
    method: string;
    json?: object;
    headers?: Record<string, string>;
    httpAgent?: object;
    httpsAgent?: object;
    timeout?: number;
  }): Promise<VaultResponse>;
  token: string | undefined;
}

/**
 * Vault reports TTLs in whole seconds, rounded down: a lease's end is known to within a second. The margin the
 * schedule keeps is widened by that much, so that what the app is promised is kept at the worst rounding.
 */
const TTL_GRANULARITY_MS = 1_000;
/** At most this many revocations at once at exit, each on its own socket (not queued behind the pool). */
const MAX_PARALLEL_REVOCATIONS = 64;
/**
 * A mount looked up this recently is trusted through a 404 or 403 under it: many refused paths under one mount
 * cost one lookup between them, not one each.
 */
const MOUNT_TRUST_MS = 1_000;

/**
 * node-vault, for logins and token renewals: loaded on the first one, so a token-auth `once` never pays for it.
 * It logs request bodies and responses through `debug` when DEBUG names it; a value must never reach stderr that
 * way, so its debug output is switched off for good.
 */
function loadNodeVault(): (options: object) => NodeVaultClient {
  const require = createRequire(import.meta.url);
  const factory = require('node-vault') as (options: object) => NodeVaultClient;
  const debug = createRequire(require.resolve('node-vault'))('debug') as { disable: () => string; enable: (ns: string) => void };
  debug.disable();
  debug.enable = () => undefined;
  return factory;
}

/** TLS settings from the config, else from the variables Vault's own CLI reads. */
function vaultTls(config: VaultBackendConfig, env: Readonly<Record<string, string | undefined>>): VaultHttpOptions['tls'] {
  const pem = (file: string | undefined, what: string): Buffer | undefined => {
    if (!file) return undefined;
    try {
      return readFileSync(file);
    } catch (error) {
      throw new SidecarError(
        'SIDECAR_ERR_CONFIG_INVALID',
        `backend "${config.name}": cannot read the ${what} ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
      );
    }
  };
  const ca = pem(config.caCert ?? env['VAULT_CACERT'], 'CA certificate');
  const cert = pem(config.clientCert ?? env['VAULT_CLIENT_CERT'], 'client certificate');
  const key = pem(config.clientKey ?? env['VAULT_CLIENT_KEY'], 'client key');
  const servername = config.tlsServerName ?? env['VAULT_TLS_SERVER_NAME'];
  return {
    rejectUnauthorized: !config.tlsSkipVerify,
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    ...(servername ? { servername } : {}),
  };
}

/**
 * Secrets from HashiCorp Vault or OpenBao. This part reads KV (v1 and v2, detected per mount) with a token;
 * the reference path is the logical KV path ("secret/app"), as in the UI and CLI, on either version.
 */
export class VaultBackend implements SecretBackend {
  readonly name: string;
  readonly refreshPolicy: RefreshPolicy;
  readonly #http: VaultHttp;
  #nodeVault: NodeVaultClient | undefined;
  readonly #address: string;
  readonly #namespace: string;
  readonly #tokens: TokenManager;
  readonly #mounts: MountCache;
  /** Leases this backend holds, with when each ends (epoch ms), for revoke_leases_on_exit. */
  readonly #leases = new Map<string, number>();
  /** Leases whose path was computed from a secret: what their audit records show instead. */
  readonly #leaseLabels = new Map<string, string>();
  /** The lease each path holds now, so that the one it replaces can be revoked once the app has switched. */
  readonly #leaseOf = new Map<string, string>();
  readonly #revocations = new Set<SafeTimer>();
  readonly #live: boolean;
  /** Which token generation issued the lease each path holds now: a lease ends with its token. */
  readonly #leaseIssuers = new Map<string, number>();
  readonly #listeners = new Map<string, Set<() => void>>();
  /** cache_dir (token, leases, issuances), or the implicit certificates-only cache; none without either. */
  readonly #cache: VaultCache | undefined;
  /** Take over what an earlier run left (not when a reload rebuilt this backend). */
  readonly #adopt: boolean;
  /** Paths whose cached lease or issuance has been looked at: only a process's first fetch of a path adopts. */
  readonly #adoptionTried = new Set<string>();
  /** When each cached mount was looked up: a failure under a mount cached before the fetch began looks it up again. */
  readonly #lookedUpAt = new WeakMap<MountInfo, number>();
  /** Aborted by close(): logins, lookups and renewals of the token still under way end with it. */
  readonly #closing = new AbortController();
  /** Lease paths already told that their max TTL is too short for the margin. */
  readonly #shortMaxTtl = new Set<string>();
  constructor(
    private readonly config: VaultBackendConfig,
    env: Readonly<Record<string, string | undefined>>,
    private readonly logger: Logger,
    retry: RetryPolicy,
    live: boolean,
    writeFile: AtomicFileWriter,
    keep: { readonly adopt: boolean; readonly certificateCacheDir: string | undefined; readonly keep: boolean } = {
      adopt: false,
      certificateCacheDir: undefined,
      keep: true,
    },
  ) {
    this.name = config.name;
    this.refreshPolicy = Object.freeze({
      ...DEFAULT_REFRESH_POLICY,
      fraction: config.leaseRenewalThreshold,
      marginMs: config.rotationMarginMs + TTL_GRANULARITY_MS,
    });
    this.#live = live;
    const address = config.address ?? env['VAULT_ADDR'] ?? 'http://127.0.0.1:8200';
    if (config.tlsSkipVerify)
      logger.warn({ address }, 'tls_skip_verify is on: the Vault server certificate is NOT verified; anyone on the path can read every secret');
    this.#address = address;
    this.#namespace = config.namespace ?? env['VAULT_NAMESPACE'] ?? '';
    this.#http = new VaultHttp({
      address,
      namespace: this.#namespace,
      maxConnections: config.maxConnections,
      timeoutMs: config.requestTimeoutMs,
      tls: vaultTls(config, env),
    });
    this.#adopt = keep.adopt;
    const cacheDir = keep.keep ? (config.cacheDir ?? keep.certificateCacheDir) : undefined;
    // The token is kept per auth settings: a run configured with another role does not adopt this one's token.
    // Everything is kept per server too: a config pointed at another Vault (or namespace) never sends it the old
    // one's token, nor reuses a certificate another CA issued.
    const cacheKey = { backend: JSON.stringify([config.name, address, this.#namespace]), auth: JSON.stringify(config.auth) };
    this.#cache = cacheDir === undefined ? undefined : new VaultCache(cacheDir, cacheKey, writeFile, config.cacheDir !== undefined);
    const cache = this.#cache;
    this.#tokens = new TokenManager(config.auth, {
      post: (path, body, token) => this.#post(path, body, token),
      lookupSelf: async (token) => {
        try {
          const response = await this.#http.request('GET', 'auth/token/lookup-self', token, undefined, { signal: this.#closing.signal });
          const data = (response.data ?? {}) as { ttl?: number; renewable?: boolean; accessor?: string };
          return { ttl: data.ttl ?? 0, renewable: data.renewable ?? false, accessor: data.accessor || undefined };
        } catch (error) {
          // A token Vault knows but may not look itself up (no default policy) is alive; one it does not know is not.
          if (error instanceof VaultHttpError && error.status === 403 && error.policyRefusal) return { ttl: undefined, renewable: undefined };
          throw vaultError(error, `backend "${config.name}": auth/token/lookup-self`);
        }
      },
      revokeSelf: async (token) => {
        await this.#http.request('POST', 'auth/token/revoke-self', token, {}, { signal: this.#closing.signal });
      },
      env,
      logger,
      backend: config.name,
      retry,
      refreshPolicy: this.refreshPolicy,
      keepAlive: live,
      onTokenEnding: (generation, reason) => this.#refetchLeasesOf(generation, reason),
      holdsLeases: (generation) => [...this.#leaseIssuers.values()].includes(generation),
      handover:
        cache?.credentials && config.auth.method !== 'token'
          ? {
              read: () => (this.#adopt ? cache.token() : Promise.resolve({})),
              save: (entry) => cache.putToken(entry),
              drop: () => cache.dropToken(),
            }
          : undefined,
    });
    this.#mounts = new MountCache((path, derived) => this.#lookupMount(path, derived));
  }

  async fetch(path: string, context: FetchContext): Promise<FetchedSecret> {
    const started = Date.now();
    const shown = context.label ?? path;
    const [bare = path] = path.split('?', 1);
    // A path computed from a secret names its mount too: the mount is then never shown.
    const derived = context.label !== undefined && context.label !== path;
    const mount = await untilAborted(this.#mounts.mountFor(bare, derived), context.signal);
    try {
      return await this.#fetchUnder(mount, path, context.signal, shown);
    } catch (error) {
      // A mount that changed type (kv enable-versioning, a remount) answers 404 or 403 at the old address.
      const code = (error as SidecarError).code;
      if (
        (code !== 'SIDECAR_ERR_BACKEND_NOT_FOUND' && code !== 'SIDECAR_ERR_BACKEND_DENIED') ||
        started - (this.#lookedUpAt.get(mount) ?? Infinity) < MOUNT_TRUST_MS
      )
        throw error;
      this.#mounts.forget(mount);
      const again = await untilAborted(this.#mounts.mountFor(bare, derived), context.signal);
      if (again.path === mount.path && again.type === mount.type && again.version === mount.version) throw error;
      this.logger.info({ mount: derived ? shown : again.path, type: again.type, version: again.version }, 'vault mount changed; reading under its new type');
      return this.#fetchUnder(again, path, context.signal, shown);
    }
  }

  async #fetchUnder(mount: MountInfo, path: string, signal: AbortSignal, shown: string): Promise<FetchedSecret> {
    const [bare = path, args] = path.split('?', 2);
    if (bare.endsWith('/') && !args) return this.#list(mount, bare, signal, shown);
    if (mount.type !== 'kv') {
      // Arguments make it a write that returns a secret (pki/issue/<role> with common_name, ttl, …).
      if (args) return this.#write(bare, args, path, shown, signal);
      const adopted = await this.#adoptLease(path, shown, signal);
      if (adopted) return adopted;
      const generation = this.#tokens.generation;
      const secret = this.#dynamic(await this.#request('GET', bare, shown, undefined, signal), shown);
      if (secret.lifetime.kind === 'lease') {
        this.#leaseIssuers.set(path, generation);
        this.#replaced(path, secret.lifetime.leaseId);
        await this.#keepLease(path, secret, secret.lifetime.issuedAt ?? Date.now());
      }
      return secret;
    }
    const { apiPath, query } = kvReadPath(mount, path);
    const response = await this.#request('GET', query ? `${apiPath}?${query}` : apiPath, shown, undefined, signal);
    return mount.version === '2' ? this.#kv2(response, shown) : this.#kv1(response);
  }

  /**
   * Extends a lease by its own duration, and by at least twice the margin: Vault only shows a lease's max TTL by
   * granting less than asked, and asking for that much shows it while the margin can still be kept (renewals
   * come at least a margin before the lease's end). Vault grants exactly what is asked unless max TTL cuts it.
   */
  async renew(secret: FetchedSecret, context: FetchContext): Promise<FetchedSecret> {
    const lifetime = secret.lifetime;
    if (lifetime.kind !== 'lease') return secret;
    const increment = Math.max(1, Math.round(lifetime.ttlMs / 1000), Math.ceil((2 * this.refreshPolicy.marginMs) / 1000));
    const sent = Date.now();
    const response = await this.#request('PUT', 'sys/leases/renew', 'sys/leases/renew', { lease_id: lifetime.leaseId, increment }, context.signal);
    const ttlMs = (response.lease_duration ?? 0) * 1000;
    // The lease ends no sooner than this (the TTL is rounded down to the second, counted from before we asked).
    const endsAt = sent + ttlMs;
    if (this.#leases.has(lifetime.leaseId)) this.#leases.set(lifetime.leaseId, endsAt);
    const truncated = ttlMs < increment * 1000;
    const maxExpiresAt = truncated ? Math.min(endsAt, lifetime.maxExpiresAt ?? Infinity) : lifetime.maxExpiresAt;
    if (truncated && lifetime.issuedAt !== undefined)
      this.#checkMaxTtl(this.#leaseLabels.get(lifetime.leaseId) ?? lifetime.leaseId.split('/').slice(0, -1).join('/'), endsAt - lifetime.issuedAt);
    const renewed: FetchedSecret = {
      ...secret,
      lifetime: { kind: 'lease', leaseId: lifetime.leaseId, ttlMs, renewable: response.renewable ?? false, maxExpiresAt, issuedAt: lifetime.issuedAt },
    };
    const path = this.#pathOfLease(lifetime.leaseId);
    if (path !== undefined) await this.#keepLease(path, renewed, sent);
    return renewed;
  }

  /** The path that holds `leaseId` now, if any. */
  #pathOfLease(leaseId: string): string | undefined {
    for (const [path, id] of this.#leaseOf) if (id === leaseId) return path;
    return undefined;
  }

  /** Hands a lease to the next run (cache_dir); a failure costs the next run a new credential, nothing more. */
  async #keepLease(path: string, secret: FetchedSecret, since: number): Promise<void> {
    const lifetime = secret.lifetime;
    if (!this.#cache?.credentials || lifetime.kind !== 'lease') return;
    const entry = {
      leaseId: lifetime.leaseId,
      issuedAt: lifetime.issuedAt ?? since,
      expiresAt: since + lifetime.ttlMs,
      renewable: lifetime.renewable,
      accessor: this.#tokens.accessor,
      data: secret.value.reveal() as Record<string, unknown>,
    };
    await this.#cache
      .putLease(path, entry)
      .catch((error: unknown) =>
        this.logger.warn(
          { error: errorFields(toSidecarError(error, 'SIDECAR_ERR_OUTPUT_WRITE')) },
          'cannot cache the lease; the next run fetches new credentials',
        ),
      );
  }

  /**
   * The lease an earlier run left for `path`, if Vault still knows it (sys/leases/lookup) with more than the
   * margin left: the same credentials, renewed on their schedule, nothing rendered anew. Anything else is dropped
   * with an audit record saying why, and fetched anew; a lease still alive is then revoked once its replacement
   * is in the app's hands (revoke_replaced_leases), as any replaced lease.
   */
  async #adoptLease(path: string, shown: string, signal: AbortSignal): Promise<FetchedSecret | undefined> {
    const cache = this.#cache;
    if (!cache?.credentials || !this.#adopt || this.#adoptionTried.has(path)) return undefined;
    this.#adoptionTried.add(path);
    const started = Date.now();
    const read = await cache.lease(path);
    const drop = async (errorCode: string, reason: string) => {
      this.#adoptionAudit(shown, started, { errorCode, reason });
      await cache.dropLease(path);
      return undefined;
    };
    if (read.refused) {
      this.logger.warn({ path: shown, error: errorFields(read.refused) }, 'the cached lease is refused; fetching new credentials');
      return drop(read.refused.code, 'the cache file was refused');
    }
    const cached = read.entry;
    if (!cached) return undefined;
    // The token first (adopted, or a new login): a lease issued by another token ends with that one, unseen.
    try {
      await untilAborted(this.#tokens.token(), signal);
    } catch (error) {
      // No token yet (Vault unreachable, a login retried): adopt at the next try rather than issue beside the lease.
      this.#adoptionTried.delete(path);
      throw error;
    }
    if (cached.accessor !== this.#tokens.accessor)
      return drop('SIDECAR_ERR_BACKEND_INACTIVE', 'the token that issued it was not adopted, and the lease ends with it');
    if (cached.expiresAt <= started) return drop('SIDECAR_ERR_BACKEND_INACTIVE', 'the lease has expired');
    let found: { ttl?: number; renewable?: boolean; issue_time?: string };
    try {
      const response = await this.#request('PUT', 'sys/leases/lookup', 'sys/leases/lookup', { lease_id: cached.leaseId }, signal);
      found = response.data ?? {};
    } catch (error) {
      const coded = toSidecarError(error, 'SIDECAR_ERR_BACKEND_UNAVAILABLE');
      // Vault cannot say now: ask again at the next try rather than issue beside a lease that may live.
      if (coded.retryable) {
        this.#adoptionTried.delete(path);
        throw coded;
      }
      return drop(
        coded.code,
        coded.code === 'SIDECAR_ERR_BACKEND_DENIED'
          ? 'the token may not look leases up (update on sys/leases/lookup)'
          : 'Vault does not know the lease (revoked, or expired)',
      );
    }
    const now = Date.now();
    const ttlMs = (found.ttl ?? 0) * 1000;
    if (ttlMs > 0) {
      // Alive: ours to renew, to revoke at exit (revoke_leases_on_exit) or once a replacement is in place.
      this.#leases.set(cached.leaseId, now + ttlMs);
      this.#labelLease(cached.leaseId, shown);
      this.#replaced(path, cached.leaseId);
    }
    // A renewable lease is renewed soon after (at half what is left at the latest); one that cannot be is replaced.
    if (ttlMs <= 0 || (!found.renewable && ttlMs <= this.refreshPolicy.marginMs))
      return drop('SIDECAR_ERR_BACKEND_INACTIVE', 'the lease cannot be renewed and has less than rotation_margin left');
    this.#leaseIssuers.set(path, this.#tokens.generation);
    this.#adoptionAudit(shown, started, { expiresAt: now + ttlMs });
    this.logger.info({ path: shown, ttlSeconds: found.ttl }, 'adopted the lease an earlier run left');
    const issuedAt = Date.parse(found.issue_time ?? '');
    return {
      value: new Sealed(cached.data),
      version: fingerprint(cached.leaseId),
      lifetime: {
        kind: 'lease',
        leaseId: cached.leaseId,
        ttlMs,
        renewable: found.renewable ?? false,
        issuedAt: Number.isFinite(issuedAt) ? issuedAt : cached.issuedAt,
      },
    };
  }

  /** The lease id holds the path as fetched; a path computed from a secret is audited by its label instead. */
  #labelLease(leaseId: string, shown: string): void {
    if (shown.includes('[derived from ')) this.#leaseLabels.set(leaseId, shown.split('?')[0] ?? shown);
  }

  /** What became of something an earlier run left: taken over, or not (the reason says why; it is fetched anew). */
  #adoptionAudit(shown: string, started: number, result: { readonly errorCode: string; readonly reason: string } | { readonly expiresAt: number }): void {
    const outcome = 'errorCode' in result ? 'error' : 'ok';
    writeAudit(this.logger, {
      event: 'secret.adopt',
      backend: this.name,
      path: shown.split('?')[0] ?? shown,
      outcome,
      durationMs: Date.now() - started,
      ...result,
    });
  }

  /**
   * A lease whose whole life is shorter than twice the margin cannot be replaced a margin before its end without
   * a new lease at every turn: it is replaced at half its life instead, and the log says so once per path.
   */
  #checkMaxTtl(path: string, lifeMs: number): void {
    // A `once` run replaces nothing: the margin is the `run` sidecar's business.
    if (!this.#live || lifeMs >= 2 * this.refreshPolicy.marginMs || this.#shortMaxTtl.has(path)) return;
    this.#shortMaxTtl.add(path);
    this.logger.warn(
      { path, leaseLifeSeconds: Math.round(lifeMs / 1000), rotationMarginSeconds: this.config.rotationMarginMs / 1000 },
      `leases from ${path} live about ${formatDuration(Math.round(lifeMs / 1000) * 1000)} in all (the role's max TTL), too short for rotation_margin ${formatDuration(this.config.rotationMarginMs)}: each is replaced at half its life, less than the margin before it ends; raise the role's max_ttl or lower rotation_margin`,
    );
  }

  /** Reports when the lease a path holds has ended with the token that issued it. */
  watch(path: string, onChange: () => void): Promise<() => Promise<void>> {
    const listeners = this.#listeners.get(path) ?? new Set();
    listeners.add(onChange);
    this.#listeners.set(path, listeners);
    return Promise.resolve(() => {
      listeners.delete(onChange);
      if (listeners.size === 0) this.#listeners.delete(path);
      return Promise.resolve();
    });
  }

  /**
   * Vault revokes every lease a token created when the token ends. Credentials issued under a token that is
   * ending are fetched again with its successor now, rather than found dead at their next renewal.
   */
  #refetchLeasesOf(generation: number, reason: string): void {
    const paths = [...this.#leaseIssuers].filter(([, issuer]) => issuer === generation).map(([path]) => path);
    if (paths.length === 0) return;
    this.logger.info(
      { backend: this.name, leases: paths.length, reason },
      'the token that issued these leases is ending: fetching new credentials with the new token',
    );
    for (const path of paths) {
      this.#leaseIssuers.delete(path);
      for (const listener of this.#listeners.get(path) ?? []) listener();
    }
  }

  /**
   * `path` now holds `leaseId`. The lease it replaces is revoked once the app has had the rotation margin to
   * switch to the new one (it was signalled before that), unless it runs out by itself by then, or within the
   * second its end is known to: a replacement at max TTL is scheduled the margin and that second before the
   * end, so its revocation would land in that second and cost a request to gain nothing one can count on.
   */
  #replaced(path: string, leaseId: string): void {
    // Leases left to run out stay listed for revoke_leases_on_exit until they end; then they go, or a long run
    // would keep one entry per replacement for good.
    const now = Date.now();
    const held = new Set(this.#leaseOf.values());
    for (const [id, endsAt] of this.#leases) {
      if (endsAt > now || held.has(id)) continue;
      this.#leases.delete(id);
      this.#leaseLabels.delete(id);
    }
    const old = this.#leaseOf.get(path);
    this.#leaseOf.set(path, leaseId);
    if (old === undefined || old === leaseId || !this.#live || !this.config.revokeReplacedLeases) return;
    const endsAt = this.#leases.get(old) ?? 0;
    const revokeAt = now + this.config.rotationMarginMs;
    if (endsAt <= revokeAt + TTL_GRANULARITY_MS) return;
    const timer = setSafeTimeout(() => {
      this.#revocations.delete(timer);
      void this.#revoke(old, this.#closing.signal);
    }, revokeAt - Date.now()).unref();
    this.#revocations.add(timer);
  }

  /** Forgets the mounts (a forced refresh, a reload): a mount may have changed type since it was looked up. */
  invalidate(): void {
    this.#mounts.clear();
  }

  async close(options: CloseOptions = {}): Promise<void> {
    for (const timer of this.#revocations) timer.clear();
    this.#revocations.clear();
    if (options.final && this.config.revokeLeasesOnExit) await this.#revokeAll(options.signal);
    this.#closing.abort(new SidecarError('SIDECAR_ERR_BACKEND_UNAVAILABLE', `backend "${this.name}" is closing`));
    this.#tokens.close();
    this.#http.close();
  }

  /**
   * A write that returns a secret. At a process's first fetch of it, an issuance an earlier run left is reused
   * while it is short of two thirds of its validity; later fetches are replacements, and issue.
   */
  async #write(apiPath: string, args: string, path: string, shown: string, signal: AbortSignal): Promise<FetchedSecret> {
    const reused = await this.#adoptIssuance(path, shown);
    if (reused) return reused;
    const secret = this.#dynamic(await this.#request('POST', apiPath, shown, Object.fromEntries(new URLSearchParams(args)), signal), shown);
    if (this.#cache && secret.lifetime.kind === 'expiry') {
      const entry = { issuedAt: Date.now(), expiresAt: secret.lifetime.expiresAt, data: secret.value.reveal() as Record<string, unknown> };
      await this.#cache
        .putIssuance(path, entry)
        .catch((error: unknown) =>
          this.logger.warn({ error: errorFields(toSidecarError(error, 'SIDECAR_ERR_OUTPUT_WRITE')) }, 'cannot cache the issuance; a restart will issue anew'),
        );
    }
    return secret;
  }

  async #adoptIssuance(path: string, shown: string): Promise<FetchedSecret | undefined> {
    if (!this.#cache || !this.#adopt || this.#adoptionTried.has(path)) return undefined;
    this.#adoptionTried.add(path);
    const started = Date.now();
    const read = await this.#cache.issuance(path, started, this.refreshPolicy);
    if (read.refused) {
      this.logger.warn({ path: shown, error: errorFields(read.refused) }, 'the cached issuance is refused; issuing anew');
      this.#adoptionAudit(shown, started, { errorCode: read.refused.code, reason: 'the cache file was refused' });
      return undefined;
    }
    const cached = read.entry;
    if (!cached) return undefined;
    this.#adoptionAudit(shown, started, { expiresAt: cached.expiresAt });
    this.logger.info({ path: shown, expiresAt: new Date(cached.expiresAt).toISOString() }, 'reusing a cached issuance that is still good');
    return { value: new Sealed(cached.data), version: fingerprint(JSON.stringify(cached.data)), lifetime: { kind: 'expiry', expiresAt: cached.expiresAt } };
  }

  /**
   * A read or write answered by a secrets engine: with a lease (database, aws, …), with an expiration and no
   * lease (a PKI certificate, re-issued at two thirds of its validity), or plain data (polled).
   */
  #dynamic(response: VaultResponse, shown: string): FetchedSecret {
    const data = response.data ?? {};
    const leaseId = response.lease_id ?? '';
    if (!leaseId || !response.lease_duration) {
      const expiration = (data as { expiration?: unknown }).expiration;
      const lifetime =
        typeof expiration === 'number' && expiration > 0
          ? ({ kind: 'expiry', expiresAt: expiration * 1000 } as const)
          : ({ kind: 'poll', intervalMs: this.config.staticRefreshMs } as const);
      return { value: new Sealed(data), version: fingerprint(JSON.stringify(data)), lifetime };
    }
    const issuedAt = Date.now();
    this.#leases.set(leaseId, issuedAt + response.lease_duration * 1000);
    this.#labelLease(leaseId, shown);
    if (!response.renewable) this.#checkMaxTtl(shown.split('?')[0] ?? shown, response.lease_duration * 1000);
    return {
      value: new Sealed(data),
      // Each issuance is a new lease: the lease id identifies the version (and is never logged).
      version: fingerprint(leaseId),
      lifetime: { kind: 'lease', leaseId, ttlMs: response.lease_duration * 1000, renewable: response.renewable ?? false, issuedAt },
    };
  }

  /**
   * Revokes every lease still running, all at once, within one budget: `revoke_timeout`, or the shutdown's own
   * signal if it ends first. A stalled server cannot hold the exit longer; what was not revoked is named.
   */
  async #revokeAll(shutdown: AbortSignal | undefined): Promise<void> {
    // A lease past its end is gone already.
    const now = Date.now();
    const leases = [...this.#leases].filter(([, endsAt]) => endsAt > now).map(([leaseId]) => leaseId);
    if (leases.length === 0) return;
    const budget = deadlineSignal(
      this.config.revokeTimeoutMs,
      () => new SidecarError('SIDECAR_ERR_BACKEND_UNAVAILABLE', `not revoked within revoke_timeout (${formatDuration(this.config.revokeTimeoutMs)})`),
    );
    const linked = linkSignals(shutdown ? [budget.signal, shutdown] : [budget.signal]);
    const signal = linked.signal;
    const agent = this.#http.separateAgent(MAX_PARALLEL_REVOCATIONS);
    const shown = leases.map((leaseId) => this.#shownLease(leaseId));
    try {
      const revoked = await Promise.all(leases.map((leaseId) => this.#revoke(leaseId, signal, agent)));
      const failed = shown.filter((_, i) => !revoked[i]);
      if (failed.length > 0) {
        this.logger.error(
          { leaseIds: failed },
          `${failed.length} of ${leases.length} leases could not be revoked before exit; they run until their TTL ends unless revoked by hand (bao lease revoke <lease id>)`,
        );
      }
    } finally {
      budget.clear();
      linked.dispose();
      agent.destroy();
    }
  }

  /** True when revoked (or already gone). */
  async #revoke(leaseId: string, signal?: AbortSignal, agent?: ReturnType<VaultHttp['separateAgent']>): Promise<boolean> {
    if (!this.#leases.delete(leaseId)) return true;
    const started = Date.now();
    const path = this.#leaseLabels.get(leaseId) ?? leaseId.split('/').slice(0, -1).join('/');
    const shown = this.#shownLease(leaseId);
    this.#leaseLabels.delete(leaseId);
    try {
      const token = await untilAborted(this.#tokens.token(), signal);
      await this.#http.request('PUT', 'sys/leases/revoke', token, { lease_id: leaseId }, { signal, agent });
      writeAudit(this.logger, { event: 'secret.revoke', backend: this.name, path, outcome: 'ok', durationMs: Date.now() - started });
      // Revoked: nothing for a next run to adopt.
      const held = this.#pathOfLease(leaseId);
      if (held !== undefined) await this.#cache?.dropLease(held);
      return true;
    } catch (error) {
      const coded = vaultError(error, `backend "${this.name}": revoke`);
      // The lease id is what an operator needs to revoke it by hand; it grants nothing without a token.
      writeAudit(this.logger, {
        event: 'secret.revoke',
        backend: this.name,
        path,
        outcome: 'error',
        durationMs: Date.now() - started,
        errorCode: coded.code,
        leaseId: shown,
      });
      this.logger.warn({ leaseId: shown, error: errorFields(coded) }, 'lease not revoked');
      return false;
    }
  }

  /**
   * A lease id as logs may show it. It holds the path it was issued under: for a path computed from a secret, the
   * path's label and the lease's own last segment (what `bao list sys/leases/lookup/<path>` lists) are shown.
   */
  #shownLease(leaseId: string): string {
    const label = this.#leaseLabels.get(leaseId);
    return label === undefined ? leaseId : `${label}/${leaseId.split('/').pop() ?? ''}`;
  }

  /**
   * A path ending in "/" is a listing (LIST, as `?list=true`): the names under it, sorted; a path with nothing
   * under it answers 404, which is an empty list, as consul-template's `secrets` has it.
   */
  async #list(mount: MountInfo, path: string, signal: AbortSignal, shown: string): Promise<FetchedSecret> {
    let keys: string[] = [];
    try {
      const response = await this.#request('GET', `${kvListPath(mount, path)}?list=true`, shown, undefined, signal);
      const listed = (response.data as { keys?: unknown } | undefined)?.keys ?? [];
      if (!Array.isArray(listed) || listed.some((k) => typeof k !== 'string'))
        throw new SidecarError('SIDECAR_ERR_BACKEND_MALFORMED', `backend "${this.name}": the listing of ${shown} is not a list of names`);
      keys = (listed as string[]).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    } catch (error) {
      if ((error as SidecarError).code !== 'SIDECAR_ERR_BACKEND_NOT_FOUND') throw error;
    }
    return { value: new Sealed(keys), version: fingerprint(JSON.stringify(keys)), lifetime: { kind: 'poll', intervalMs: this.config.staticRefreshMs } };
  }

  #kv1(response: VaultResponse): FetchedSecret {
    const data = response.data ?? {};
    return { value: new Sealed(data), version: fingerprint(JSON.stringify(data)), lifetime: { kind: 'poll', intervalMs: this.config.staticRefreshMs } };
  }

  #kv2(response: VaultResponse, path: string): FetchedSecret {
    const body = (response.data ?? {}) as {
      data?: Record<string, unknown> | null;
      metadata?: { version?: number; created_time?: string; deletion_time?: string; destroyed?: boolean };
    };
    if (!body.data) {
      // A deleted or destroyed version answers with metadata and no data.
      throw new SidecarError(
        'SIDECAR_ERR_BACKEND_NOT_FOUND',
        `backend "${this.name}": "${path}" has no data (version ${body.metadata?.version ?? '?'} is deleted or destroyed)`,
      );
    }
    // A version number comes back after `kv metadata delete` and a new put: its creation time and the data tell
    // versions apart, so a reused number (or a forced refresh) never keeps a stale value.
    const identity = `v${body.metadata?.version ?? 0}\n${body.metadata?.created_time ?? ''}\n${JSON.stringify(body.data)}`;
    const source = { id: String(body.metadata?.version ?? 0), order: [timeOrder(body.metadata?.created_time), body.metadata?.version ?? 0] };
    return { value: new Sealed(body.data), version: fingerprint(identity), lifetime: { kind: 'poll', intervalMs: this.config.staticRefreshMs }, source };
  }

  async #lookupMount(path: string, derived: boolean): Promise<MountInfo> {
    const shown = derived ? 'a path derived from a secret' : path;
    const response = await this.#request('GET', `sys/internal/ui/mounts/${path}`, derived ? shown : path, undefined, this.#closing.signal);
    const data = (response.data ?? {}) as { path?: string; type?: string; options?: { version?: string } | null };
    if (!data.path || !data.type)
      throw new SidecarError('SIDECAR_ERR_BACKEND_MALFORMED', `backend "${this.name}": no mount information for ${derived ? shown : `"${path}"`}`);
    const mount = {
      path: data.path.endsWith('/') ? data.path : `${data.path}/`,
      type: data.type,
      version: data.type === 'kv' ? (data.options?.version ?? '1') : undefined,
    };
    this.logger.debug({ mount: derived ? `(the mount of ${shown})` : mount.path, type: mount.type, version: mount.version }, 'vault mount');
    this.#lookedUpAt.set(mount, Date.now());
    return mount;
  }

  /** `shown`: the path as messages may show it (its label when computed from a secret). */
  async #request(method: string, apiPath: string, shown: string, body: object | undefined, signal: AbortSignal): Promise<VaultResponse> {
    const what = `backend "${this.name}": ${shown}`;
    for (let attempt = 0; ; attempt++) {
      const token = await untilAborted(this.#tokens.token(), signal);
      try {
        // The token goes per request, never onto the shared client, so logins cannot pick it up.
        return await this.#http.request(method, apiPath, token, body, { signal });
      } catch (error) {
        const coded = vaultError(error, what);
        // The token may have been revoked or replaced: with a fresh one (file re-read, new login) try once more.
        if (coded.code === 'SIDECAR_ERR_BACKEND_DENIED' && attempt === 0 && (await this.#tokens.afterDenied(token))) continue;
        throw coded;
      }
    }
  }

  #loginClient(): NodeVaultClient {
    if (this.#nodeVault) return this.#nodeVault;
    const client = loadNodeVault()({ endpoint: this.#address, apiVersion: 'v1', pathPrefix: '', namespace: this.#namespace });
    // Never VAULT_TOKEN through node-vault's own fallback: the token manager decides, per request.
    client.token = undefined;
    this.#nodeVault = client;
    return client;
  }

  /** Logins (no token) and renew-self (with the token being renewed); returns the `auth` part. */
  /**
   * Each call gets an agent of its own with the backend's TLS settings, destroyed when the call's deadline passes
   * or the backend closes: node-vault's own timeout only fires when the socket goes quiet.
   */
  async #post(path: string, body: object, token?: string): Promise<VaultAuthAnswer | undefined> {
    const client = this.#loginClient();
    try {
      const response = await boundedCall(this.config.requestTimeoutMs, this.#closing.signal, async (signal) => {
        const agent = this.#http.separateAgent();
        signal.addEventListener('abort', () => agent.destroy(), { once: true });
        try {
          return await client.request({
            path: `/${path}`,
            method: 'POST',
            json: body,
            headers: token ? { 'X-Vault-Token': token } : {},
            httpAgent: agent,
            httpsAgent: agent,
          });
        } finally {
          agent.destroy();
        }
      });
      return response.auth;
    } catch (error) {
      throw vaultError(error, `backend "${this.name}": ${path}`, { login: token === undefined });
    }
  }
}
