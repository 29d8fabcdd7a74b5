import { readFile, stat } from 'node:fs/promises';
import type { VaultAuthConfig } from '../../config/types.js';
import { SidecarError } from '../../errors.js';

/** How often a token file is checked for a new token (another agent may rewrite it at any time). */
const TOKEN_FILE_CHECK_MS = 1_000;

/**
 * The Vault token: from the config, from a file (re-read when its modification time changes, as when another
 * agent writes a renewed token), or from VAULT_TOKEN.
 */
export class TokenSource {
  #token: string | undefined;
  #fileMtime = -1;
  #checkedAt = -Infinity;

  constructor(
    private readonly auth: VaultAuthConfig,
    private readonly env: Readonly<Record<string, string | undefined>>,
    private readonly now: () => number = Date.now,
  ) {}

  async token(): Promise<string> {
    if (this.auth.token !== undefined) return this.auth.token;
    if (this.auth.tokenFile === undefined) {
      const fromEnv = this.env['VAULT_TOKEN'];
      if (!fromEnv) throw new SidecarError('SIDECAR_ERR_BACKEND_DENIED', 'no Vault token: set VAULT_TOKEN, or auth "token" { token_file = "…" } in the backend block');
      return fromEnv;
    }
    if (this.#token === undefined || this.now() - this.#checkedAt >= TOKEN_FILE_CHECK_MS) await this.#readFile(this.auth.tokenFile);
    return this.#token ?? '';
  }

  /** Forces the next token() to look at the file again (after a 403, the file may hold a newer token). */
  invalidate(): void {
    this.#checkedAt = -Infinity;
  }

  async #readFile(file: string): Promise<void> {
    this.#checkedAt = this.now();
    try {
      const info = await stat(file);
      if (info.mtimeMs === this.#fileMtime && this.#token !== undefined) return;
      const token = (await readFile(file, 'utf8')).trim();
      if (!token) throw new SidecarError('SIDECAR_ERR_BACKEND_UNAVAILABLE', `Vault token file ${file} is empty`);
      this.#token = token;
      this.#fileMtime = info.mtimeMs;
    } catch (error) {
      if (error instanceof SidecarError) throw error;
      // Not there yet (an agent will write it): retryable, like an unreachable server.
      throw new SidecarError('SIDECAR_ERR_BACKEND_UNAVAILABLE', `cannot read Vault token file ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
}
