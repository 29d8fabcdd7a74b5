import { realpath, stat } from 'node:fs/promises';
import { boundedCall, readBounded } from '../../bounded-read.js';
import { basename, dirname, extname, join, sep } from 'node:path';
import type { FileBackendConfig, FileBackendFormat } from './provider.js';
import { SidecarError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import { watchedValue } from '../watched-value.js';
import type { FetchedSecret, FetchContext, SecretBackend, Unsubscribe } from '../types.js';
import { untilAborted } from '../until-aborted.js';
import { parseDocument, type DocumentFormat } from './parse-document.js';
import type { SourceWatch } from './source-watch.js';
import { WatchedSource } from './watched-source.js';

/**
 * Secrets from local files: a JSON or YAML document (PATH is a top-level key), or a directory with one file per
 * secret (PATH is a file name, as in Docker's /run/secrets and Kubernetes secret volumes).
 */
export class FileBackend implements SecretBackend {
  readonly watchesSource = true;
  readonly name: string;
  #format: Promise<FileBackendFormat> | undefined;
  /** The parsed document, shared by every fetch until the source changes. */
  #document: Promise<{ data: unknown }> | undefined;
  readonly #source = new WatchedSource(() => this.startWatching());

  constructor(
    private readonly config: FileBackendConfig,
    private readonly logger: Logger,
  ) {
    this.name = config.name;
  }

  async fetch(path: string, context: FetchContext): Promise<FetchedSecret> {
    return untilAborted(this.#read(path), context.signal);
  }

  async #read(path: string): Promise<FetchedSecret> {
    const format = await this.format();
    if (format === 'directory') return this.fetchFromDirectory(path);
    const { data } = await this.document(format);
    if (data === null || typeof data !== 'object' || Array.isArray(data)) {
      throw new SidecarError('SIDECAR_ERR_BACKEND_MALFORMED', `${this.config.path} must hold an object of secrets at its top level`);
    }
    if (!Object.prototype.hasOwnProperty.call(data, path)) {
      throw new SidecarError('SIDECAR_ERR_BACKEND_NOT_FOUND', `backend "${this.name}" has no secret "${path}" in ${this.config.path}`);
    }
    const value = (data as Record<string, unknown>)[path];
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

  private format(): Promise<FileBackendFormat> {
    this.#format ??= this.detectFormat().catch((error: unknown) => {
      this.#format = undefined; // the source may appear later
      throw error;
    });
    return this.#format;
  }

  private async detectFormat(): Promise<FileBackendFormat> {
    const info = await boundedCall(this.config.path, 'stat', () => stat(this.config.path)).catch((cause: unknown) => {
      throw this.sourceError(cause);
    });
    if (this.config.format) {
      if ((this.config.format === 'directory') !== info.isDirectory()) {
        throw new SidecarError(
          'SIDECAR_ERR_BACKEND_MALFORMED',
          `backend "${this.name}": ${this.config.path} is ${info.isDirectory() ? 'a directory' : 'not a directory'} but format is "${this.config.format}"`,
          { retryable: false },
        );
      }
      return this.config.format;
    }
    if (info.isDirectory()) return 'directory';
    const ext = extname(this.config.path).toLowerCase();
    if (ext === '.json') return 'json';
    if (ext === '.yaml' || ext === '.yml') return 'yaml';
    throw new SidecarError('SIDECAR_ERR_BACKEND_MALFORMED', `backend "${this.name}": cannot tell the format of ${this.config.path} from its name`, {
      hint: 'set format = "json", "yaml" or "directory" in the backend block',
      retryable: false,
    });
  }

  private document(format: DocumentFormat): Promise<{ data: unknown }> {
    this.#document ??= readBounded(this.config.path).then(
      (bytes) => ({ data: parseDocument(bytes.toString('utf8'), format, this.config.path) }),
      (cause: unknown) => {
        throw this.sourceError(cause);
      },
    );
    const current = this.#document;
    // A failed read must not stick: the next fetch (after a change or a retry) reads again.
    current.catch(() => {
      if (this.#document === current) this.#document = undefined;
    });
    return current;
  }

  private async fetchFromDirectory(path: string): Promise<FetchedSecret> {
    if (path.includes('/') || path.includes('\\') || path.includes('\0') || path.startsWith('.')) {
      throw new SidecarError('SIDECAR_ERR_BACKEND_NOT_FOUND', `backend "${this.name}": "${path}" is not a plain file name in ${this.config.path}`, {
        hint: 'a directory backend reads the files directly inside its directory; names starting with "." are never read',
      });
    }
    const file = join(this.config.path, path);
    let bytes: Buffer;
    try {
      // Entries may be symlinks (Kubernetes points them into ..data); they must still land inside the directory.
      const [root, real] = await Promise.all([
        boundedCall(this.config.path, 'realpath', () => realpath(this.config.path)),
        boundedCall(file, 'realpath', () => realpath(file)),
      ]);
      if (!real.startsWith(root + sep)) {
        throw new SidecarError('SIDECAR_ERR_BACKEND_DENIED', `backend "${this.name}": "${path}" points outside ${this.config.path}`);
      }
      bytes = await readBounded(real);
    } catch (cause) {
      if (cause instanceof SidecarError) throw cause;
      throw this.sourceError(cause, path);
    }
    const ext = extname(path).toLowerCase();
    const structured = ext === '.json' ? 'json' : ext === '.yaml' || ext === '.yml' ? 'yaml' : undefined;
    if (structured) return watchedValue(parseDocument(bytes.toString('utf8'), structured, file), bytes.toString('utf8'));
    // A keystore or DER key in a secret volume is bytes: it reaches templates as a Buffer, never as replacement
    // characters. Text stays a string.
    const text = decodeUtf8(bytes);
    return watchedValue(text ?? bytes, bytes);
  }

  private async startWatching(): Promise<SourceWatch> {
    // chokidar is only needed in `run` mode.
    const { isKubernetesAtomicEntry, watchSource } = await import('./source-watch.js');
    const format = await this.format().catch(() => undefined);
    const isDirectory = format === 'directory';
    const directory = isDirectory ? this.config.path : dirname(this.config.path);
    const file = basename(this.config.path);
    return watchSource({
      directory,
      relevant: isDirectory ? () => true : (entry) => entry === file || isKubernetesAtomicEntry(entry),
      pollIntervalMs: this.config.pollIntervalMs,
      onEvent: () => {
        this.#document = undefined;
        this.#source.notify();
      },
      onError: (error) => this.logger.warn({ error: { message: (error as Error).message } }, 'file watch error'),
    });
  }

  private sourceError(cause: unknown, entry?: string): SidecarError {
    const code = (cause as NodeJS.ErrnoException).code;
    const what = entry === undefined ? this.config.path : `"${entry}" in ${this.config.path}`;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      return new SidecarError('SIDECAR_ERR_BACKEND_NOT_FOUND', `backend "${this.name}": ${what} does not exist`, { cause });
    }
    if (code === 'EISDIR' || code === 'EINVAL' || code === 'EFBIG') {
      // Permanent until the source changes: `once` fails at once instead of waiting out its timeout.
      const why = code === 'EISDIR' ? 'is a directory' : code === 'EFBIG' ? 'is too large' : 'is not a regular file or a pipe';
      return new SidecarError('SIDECAR_ERR_BACKEND_MALFORMED', `backend "${this.name}": ${what} ${why}`, { cause, retryable: false });
    }
    if (code === 'ETIMEDOUT') {
      return new SidecarError('SIDECAR_ERR_BACKEND_UNAVAILABLE', `backend "${this.name}": reading ${what} did not finish in time (a hung mount, or a FIFO)`, {
        cause,
      });
    }
    if (code === 'EACCES' || code === 'EPERM') {
      return new SidecarError('SIDECAR_ERR_BACKEND_DENIED', `backend "${this.name}": permission denied reading ${what}`, { cause });
    }
    return new SidecarError('SIDECAR_ERR_BACKEND_UNAVAILABLE', `backend "${this.name}": cannot read ${what} (${code ?? 'error'})`, { cause });
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function decodeUtf8(bytes: Buffer): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}
