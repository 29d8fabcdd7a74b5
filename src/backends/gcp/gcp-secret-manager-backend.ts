import { SecretManagerServiceClient } from '@google-cloud/secret-manager';
import { loggingUtils, type CallOptions } from 'google-gax';
import { SidecarError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import { Sealed } from '../../sealed.js';
import type { SourceVersion } from '../../source-version.js';
import { boundedCall, logAbandoned } from '../bounded-call.js';
import { RateLimiter } from '../rate-limiter.js';
import type { FetchedSecret, FetchContext, SecretBackend } from '../types.js';
import type { GcpSecretManagerBackendConfig } from './provider.js';
import { gcpError } from './gcp-errors.js';
import { decodePayload } from './payload.js';
import { parseSecretRequest, type SecretRequest } from './secret-request.js';

type Call<T> = (client: SecretManagerServiceClient, options: CallOptions) => Promise<T>;

/** The largest answer taken: Secret Manager's payload limit (64 KiB) with room for the message around it. */
const MAX_ANSWER_BYTES = 1024 * 1024;

/** A version that can be read; the others (DISABLED, DESTROYED) fail as inactive. */
const ENABLED = new Set<unknown>(['ENABLED', 1]);

/**
 * Google Cloud Secret Manager through the official client (gRPC over TLS), with Application Default
 * Credentials. The first read of a reference is one AccessSecretVersion; a refresh of the latest version is one
 * GetSecretVersion (metadata only), and the payload is read again only when the version it names changed. A
 * pinned version never changes and is read once.
 */
export class GcpSecretManagerBackend implements SecretBackend {
  readonly type = 'gcp_secret_manager';
  readonly name: string;
  /** The client once its stub is ready (credentials found, channel set up). */
  #client: Promise<SecretManagerServiceClient> | undefined;
  readonly #limiter: RateLimiter;
  readonly #closing = new AbortController();
  /** The last payload read per reference, with the full name of the version it came from. */
  readonly #known = new Map<string, { versionName: string; value: unknown }>();

  constructor(
    private readonly config: GcpSecretManagerBackendConfig,
    private readonly logger: Logger,
  ) {
    this.name = config.name;
    // The client's debug log (GOOGLE_SDK_NODE_LOGGING) prints each response whole, payloads and tokens included.
    loggingUtils.setBackend(null);
    this.#limiter = new RateLimiter(config.maxRequestsPerSecond);
  }

  async fetch(path: string, context: FetchContext): Promise<FetchedSecret> {
    const request = parseSecretRequest(path);
    const what = `backend "${this.name}": ${context.label ?? path}`;
    // One deadline for the whole fetch (client set-up, version check, payload read); each call is also given
    // what is left of it as its gRPC deadline, so the client ends it on the wire too.
    const deadlineAt = Date.now() + this.config.requestTimeoutMs;
    return boundedCall(() => this.#fetch(path, request, what, context, deadlineAt), {
      signals: [context.signal, this.#closing.signal],
      timeoutMs: this.config.requestTimeoutMs,
      what,
      onAbandon: (reason) => logAbandoned(this.logger, what, reason),
    });
  }

  async #fetch(path: string, request: SecretRequest, what: string, context: FetchContext, deadlineAt: number): Promise<FetchedSecret> {
    const secretName = `projects/${this.config.project}/secrets/${request.secretId}`;
    const call = async <T>(method: string, run: Call<T>): Promise<T> => {
      try {
        const client = await this.#ready();
        await this.#limiter.take();
        this.logger.debug({ method, path: context.label ?? request.secretId }, 'gcp call');
        // No retries inside the client: the watcher retries with the sidecar's backoff, within its own bounds.
        return await run(client, { timeout: Math.max(1, deadlineAt - Date.now()), retry: null });
      } catch (error) {
        throw gcpError(error, what);
      }
    };
    if (request.version !== undefined) {
      const read = await this.#access(`${secretName}/versions/${request.version}`, call, what);
      return { value: new Sealed(read.value), version: `gcp:${read.versionName}`, lifetime: { kind: 'until-changed' }, source: gcpSource(read.versionName) };
    }
    const known = this.#known.get(path);
    let versionName = `${secretName}/versions/latest`;
    if (known) {
      const [version] = await call('GetSecretVersion', (client, options) => client.getSecretVersion({ name: versionName }, options));
      if (!ENABLED.has(version.state)) throw new SidecarError('SIDECAR_ERR_BACKEND_INACTIVE', `${what}: the latest version is ${String(version.state)}`);
      if (version.name === known.versionName) return this.#result(known);
      // Read the version the check named, not "latest" again: one added meanwhile comes at the next refresh.
      versionName = version.name ?? versionName;
    }
    const read = await this.#access(versionName, call, what);
    this.#known.set(path, read);
    return this.#result(read);
  }

  async close(): Promise<void> {
    this.#closing.abort(new SidecarError('SIDECAR_ERR_BACKEND_UNAVAILABLE', `backend "${this.name}": closed`));
    const client = await this.#client?.catch(() => undefined);
    this.#client = undefined;
    await client?.close();
  }

  /**
   * The client, its stub initialised before any call: the generated methods start initialize() themselves and
   * rethrow its failure (no credentials found) as an unhandled rejection, which would end the process. A client
   * whose initialisation failed keeps the failure cached, so the next fetch builds a new one.
   */
  #ready(): Promise<SecretManagerServiceClient> {
    if (this.#client) return this.#client;
    const [host, port] = splitEndpoint(this.config.endpoint);
    const client = new SecretManagerServiceClient({
      projectId: this.config.project,
      ...(this.config.credentialsFile === undefined ? {} : { keyFilename: this.config.credentialsFile }),
      ...(host === undefined ? {} : { apiEndpoint: host }),
      ...(port === undefined ? {} : { port }),
      // google-gax lifts grpc-js's limit on an answer's size; a payload is at most 64 KiB, so a server sending
      // more is refused before it is held in memory.
      'grpc.max_receive_message_length': MAX_ANSWER_BYTES,
    });
    const ready = client.initialize().then(() => client);
    this.#client = ready;
    ready.catch(() => {
      if (this.#client === ready) this.#client = undefined;
      void client.close().catch(() => undefined);
    });
    return ready;
  }

  async #access(name: string, call: <T>(method: string, run: Call<T>) => Promise<T>, what: string): Promise<{ versionName: string; value: unknown }> {
    const [answer] = await call('AccessSecretVersion', (client, options) => client.accessSecretVersion({ name }, options));
    const data = answer.payload?.data;
    const bytes = typeof data === 'string' ? Buffer.from(data, 'base64') : (data ?? new Uint8Array());
    return { versionName: answer.name ?? name, value: decodePayload(bytes, answer.payload?.dataCrc32c as string | number | null | undefined, what) };
  }

  #result(read: { versionName: string; value: unknown }): FetchedSecret {
    return {
      value: new Sealed(read.value),
      version: `gcp:${read.versionName}`,
      lifetime: { kind: 'poll', intervalMs: this.config.refreshIntervalMs },
      source: gcpSource(read.versionName),
    };
  }
}

/** "host" or "host:port" (an IPv6 host in brackets). */
function splitEndpoint(endpoint: string | undefined): [string | undefined, number | undefined] {
  if (endpoint === undefined) return [undefined, undefined];
  const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(endpoint);
  return [match?.[1] ?? endpoint, match?.[2] === undefined ? undefined : Number(match[2])];
}

/** "projects/p/secrets/s/versions/3": versions are numbered in the order they were added. */
function gcpSource(versionName: string): SourceVersion {
  const id = versionName.slice(versionName.lastIndexOf('/') + 1);
  return { id, order: [Number(id) || 0] };
}
