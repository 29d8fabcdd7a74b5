import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { z } from 'zod';
import type { SidecarError } from '../../errors.js';
import { planRefresh, type RefreshPolicy } from '../../lease/refresh-schedule.js';
import type { AtomicFileWriter } from '../provider.js';
import { checkCacheDirectory, directoryRefused, readPrivateFile, removePrivateFile, removeStaleTempFiles, unparseable } from './private-file.js';

const data = z.record(z.string(), z.unknown());

/** One issuance (a certificate and its key) as kept between runs. */
const issuanceSchema = z.strictObject({ issuedAt: z.number(), expiresAt: z.number(), data });
export type CachedIssuance = z.output<typeof issuanceSchema>;

/** A lease as `once` or an earlier `run` left it: what the templates used, and which token issued it. */
const leaseSchema = z.strictObject({
  leaseId: z.string().min(1),
  issuedAt: z.number(),
  /** The lease's end as last known (epoch ms); the server's word (sys/leases/lookup) decides. */
  expiresAt: z.number(),
  renewable: z.boolean(),
  /** The accessor of the token that issued it: a lease ends with its token. */
  accessor: z.string().optional(),
  data,
});
export type CachedLease = z.output<typeof leaseSchema>;

/** A login token, with its accessor and when it ends by its own TTL (epoch ms; undefined: no TTL). */
const tokenSchema = z.strictObject({ token: z.string().min(1), accessor: z.string().optional(), expiresAt: z.number().optional(), renewable: z.boolean() });
export type CachedToken = z.output<typeof tokenSchema>;

/** What a read found: an entry, nothing, or a coded refusal (and, when others could read it, what it held). */
export interface CacheRead<T> {
  readonly entry?: T | undefined;
  readonly refused?: SidecarError | undefined;
  /** The file was refused because others could read it, but it parsed: its token must be revoked. */
  readonly exposed?: T | undefined;
}

/**
 * What a Vault backend keeps between runs, in one private directory on tmpfs: PKI issuances (so a restart reuses
 * a certificate that is still good), and with `credentials`, the login token and the leases, so that the `run`
 * sidecar after a `once` init container, or a restarted `run`, adopts them instead of issuing new ones. Files
 * are 0600 in a 0700 directory, the sidecar user's own; anything else is refused and fetched anew.
 */
export class VaultCache {
  #swept = false;

  constructor(
    readonly directory: string,
    /** Files are named by hashes of the backend's name (and its auth settings, for the token). */
    private readonly key: { readonly backend: string; readonly auth: string },
    private readonly writeFile: AtomicFileWriter,
    /** false: the implicit certificates-only cache, which never holds a token or a lease. */
    readonly credentials: boolean,
  ) {}

  /** The cached issuance for this request, if it is not yet due for replacement under `policy`. */
  async issuance(request: string, now: number, policy: RefreshPolicy): Promise<CacheRead<CachedIssuance>> {
    const read = await this.#read(this.#name('', request), issuanceSchema);
    if (!read.entry) return read;
    // The replacement time the watcher would plan for it, without jitter: reusing it later buys nothing.
    const plan = planRefresh({ kind: 'expiry', expiresAt: read.entry.expiresAt }, read.entry.issuedAt, 0, policy);
    return plan.action !== 'none' && now < plan.at ? read : {};
  }

  async putIssuance(request: string, entry: CachedIssuance): Promise<void> {
    await this.#write(this.#name('', request), entry);
  }

  async lease(path: string): Promise<CacheRead<CachedLease>> {
    return this.credentials ? this.#read(this.#name('lease-', path), leaseSchema) : {};
  }

  async putLease(path: string, entry: CachedLease): Promise<void> {
    if (this.credentials) await this.#write(this.#name('lease-', path), entry);
  }

  async dropLease(path: string): Promise<void> {
    await removePrivateFile(this.directory, this.#name('lease-', path));
  }

  async token(): Promise<CacheRead<CachedToken>> {
    return this.credentials ? this.#read(this.#name('token-', this.key.auth), tokenSchema) : {};
  }

  async putToken(entry: CachedToken): Promise<void> {
    if (this.credentials) await this.#write(this.#name('token-', this.key.auth), entry);
  }

  async dropToken(): Promise<void> {
    await removePrivateFile(this.directory, this.#name('token-', this.key.auth));
  }

  async #read<T>(name: string, schema: z.ZodType<T>): Promise<CacheRead<T>> {
    await this.#sweep();
    const read = await readPrivateFile(this.directory, name);
    if (read.kind === 'absent') return {};
    const parsed = (text: string | undefined) => {
      if (text === undefined) return undefined;
      try {
        const result = schema.safeParse(JSON.parse(text));
        return result.success ? result.data : undefined;
      } catch {
        return undefined;
      }
    };
    if (read.kind === 'refused') return { refused: read.error, exposed: read.exposed ? parsed(read.text) : undefined };
    const entry = parsed(read.text);
    // Never the text or the parser's message: either may quote a secret.
    return entry === undefined ? { refused: unparseable(join(this.directory, name), 'not a cache entry of this version') } : { entry };
  }

  async #write(name: string, entry: object): Promise<void> {
    const dir = await checkCacheDirectory(this.directory);
    // A token or a key is never written where others could read it.
    if (dir !== 'absent' && !dir.ok) throw directoryRefused(this.directory, dir.why);
    await this.writeFile(join(this.directory, name), JSON.stringify(entry), { perms: 0o600, createDirs: true, allowNonTmpfs: false });
  }

  /** Once per process: a write killed mid-way (kill -9) left a temp file that may hold part of a token or key. */
  async #sweep(): Promise<void> {
    if (this.#swept) return;
    this.#swept = true;
    const dir = await checkCacheDirectory(this.directory);
    if (dir !== 'absent' && dir.ok) await removeStaleTempFiles(this.directory);
  }

  #name(kind: string, key: string): string {
    return `${kind}${createHash('sha256').update(`${this.key.backend}\n${key}`).digest('hex')}.json`;
  }
}
