import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { planRefresh, type RefreshPolicy } from '../../lease/refresh-schedule.js';
import type { AtomicFileWriter } from '../provider.js';

/** One issuance (a certificate and its key) as kept between runs. */
export interface CachedIssuance {
  readonly issuedAt: number;
  /** Epoch ms. */
  readonly expiresAt: number;
  readonly data: Record<string, unknown>;
}

/**
 * Keeps what writes that return secrets (PKI issuances) answered, so a restart reuses a certificate that is still
 * good instead of issuing a new one. The directory must be on tmpfs, like every output: it holds private keys.
 */
export class IssuanceCache {
  constructor(
    private readonly directory: string,
    private readonly backend: string,
    private readonly writeFile: AtomicFileWriter,
  ) {}

  /** The cached issuance for this request, if it is not yet due for replacement under `policy`. */
  async get(request: string, now: number, policy: RefreshPolicy): Promise<CachedIssuance | undefined> {
    const text = await readFile(this.#file(request), 'utf8').catch(() => undefined);
    if (text === undefined) return undefined;
    try {
      const entry = JSON.parse(text) as CachedIssuance;
      // The replacement time the watcher would plan for it, without jitter: reusing it later buys nothing.
      const plan = planRefresh({ kind: 'expiry', expiresAt: entry.expiresAt }, entry.issuedAt, 0, policy);
      return plan.action !== 'none' && now < plan.at ? entry : undefined;
    } catch {
      return undefined; // unreadable: issue anew, and overwrite it
    }
  }

  async put(request: string, entry: CachedIssuance): Promise<void> {
    await this.writeFile(this.#file(request), JSON.stringify(entry), { perms: 0o600, createDirs: true, allowNonTmpfs: false });
  }

  #file(request: string): string {
    return join(this.directory, `${createHash('sha256').update(`${this.backend}\n${request}`).digest('hex')}.json`);
  }
}
