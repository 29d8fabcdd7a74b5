import { readTextBounded } from '../../bounded-read.js';
import { basename, dirname } from 'node:path';
import type { EjsonBackendConfig } from './provider.js';
import { SidecarError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import { watchedValue } from '../watched-value.js';
import type { FetchedSecret, FetchContext, SecretBackend, Unsubscribe } from '../types.js';
import { untilAborted } from '../until-aborted.js';
import { WatchedSource } from '../file/watched-source.js';
import { decryptValue } from './ejson-crypto.js';
import { parseEjson, replaceValues } from './ejson-document.js';
import { DEFAULT_KEY_DIR, loadPrivateKey } from './ejson-keys.js';

/** The path that names the whole decrypted document. */
export const WHOLE_DOCUMENT = '.';

/**
 * Secrets from a Shopify ejson file: values encrypted to the file's public key, decrypted here with the private
 * key found by that public key. PATH is a top-level key ("database"), or "." for the whole document.
 */
export class EjsonBackend implements SecretBackend {
  readonly watchesSource = true;
  readonly name: string;
  /** The decrypted document, shared by every fetch until the file changes. */
  #document: Promise<Record<string, unknown>> | undefined;
  readonly #source: WatchedSource;
  readonly #warnedKeys = new Set<string>();

  constructor(
    private readonly config: EjsonBackendConfig,
    private readonly env: Readonly<Record<string, string | undefined>>,
    private readonly logger: Logger,
  ) {
    this.name = config.name;
    this.#source = new WatchedSource(async () => {
      // chokidar is only needed in `run` mode.
      const { isKubernetesAtomicEntry, watchSource } = await import('../file/source-watch.js');
      const file = basename(config.path);
      return watchSource({
        directory: dirname(config.path),
        relevant: (entry) => entry === file || isKubernetesAtomicEntry(entry),
        pollIntervalMs: config.pollIntervalMs,
        onEvent: () => {
          this.#document = undefined;
          this.#source.notify();
        },
        onError: (error) => this.logger.warn({ error: { message: (error as Error).message } }, 'file watch error'),
      });
    });
  }

  async fetch(path: string, context: FetchContext): Promise<FetchedSecret> {
    return untilAborted(this.#read(path), context.signal);
  }

  async #read(path: string): Promise<FetchedSecret> {
    this.#document ??= this.#decrypt();
    const current = this.#document;
    // A failure must not stick: the next fetch (after a change or a retry) reads again.
    current.catch(() => {
      if (this.#document === current) this.#document = undefined;
    });
    const document = await current;
    let value: unknown;
    if (path === WHOLE_DOCUMENT) {
      value = Object.fromEntries(Object.entries(document).filter(([key]) => key !== '_public_key'));
    } else if (Object.prototype.hasOwnProperty.call(document, path)) {
      value = document[path];
    } else {
      throw new SidecarError('SIDECAR_ERR_BACKEND_NOT_FOUND', `backend "${this.name}" has no "${path}" in ${this.config.path}`);
    }
    return watchedValue(value);
  }

  invalidate(): void {
    this.#document = undefined;
  }

  watch(_path: string, onChange: () => void): Promise<Unsubscribe> {
    return this.#source.subscribe(onChange);
  }

  async close(): Promise<void> {
    await this.#source.close();
  }

  async #decrypt(): Promise<Record<string, unknown>> {
    const file = this.config.path;
    const raw = await readTextBounded(file).catch((cause: unknown) => {
      throw readFailure(this.name, file, cause);
    });
    const document = parseEjson(raw, file);
    const keyDir = this.config.keyDir ?? this.env['EJSON_KEYDIR'] ?? DEFAULT_KEY_DIR;
    const { secretKey } = await loadPrivateKey(document.publicKey, { keyFile: this.config.keyFile, keyDir }, this.logger, this.#warnedKeys);
    const plain = document.values.map((at) => {
      const result = decryptValue(at.value, secretKey);
      if (result.ok) return { at, with: result.plain };
      if (result.reason === 'authentication') {
        throw new SidecarError('SIDECAR_ERR_BACKEND_DECRYPT', `${file}: "${at.path}" does not decrypt with the key for ${document.publicKey}`, {
          hint: 'the value was changed after encryption, or encrypted for another public key',
        });
      }
      throw new SidecarError('SIDECAR_ERR_BACKEND_MALFORMED', `${file}: "${at.path}" is not encrypted`, {
        retryable: false,
        hint: `encrypt the file with \`secrets-sidecar ejson encrypt ${file}\` before it is read`,
      });
    });
    return JSON.parse(replaceValues(document.text, plain)) as Record<string, unknown>;
  }
}

function readFailure(backend: string, file: string, cause: unknown): SidecarError {
  const code = (cause as NodeJS.ErrnoException).code ?? 'error';
  if (code === 'ENOENT') return new SidecarError('SIDECAR_ERR_BACKEND_NOT_FOUND', `backend "${backend}": cannot read ${file} (ENOENT)`);
  // A directory (or a device, or a huge file) at the path is permanent until it changes: no retry loop in `once`.
  const permanent = code === 'EISDIR' || code === 'EINVAL' || code === 'EFBIG';
  return new SidecarError(
    permanent ? 'SIDECAR_ERR_BACKEND_MALFORMED' : 'SIDECAR_ERR_BACKEND_UNAVAILABLE',
    `backend "${backend}": cannot read ${file} (${code})`,
    { retryable: !permanent },
  );
}
