import { GetParametersByPathCommand, GetParametersCommand, SSMClient, type Parameter } from '@aws-sdk/client-ssm';
import type { AwsSecretsManagerBackendConfig } from './provider.js';
import { SidecarError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import { Sealed } from '../../sealed.js';
import { fingerprint } from '../fingerprint.js';
import type { FetchedSecret, FetchContext, SecretBackend } from '../types.js';
import { requireRegion, sendBounded } from './aws-call.js';
import { awsClientOptions, instrumentAwsClient } from './call-log.js';
import { limitAwsResponses } from './response-limit.js';
import { RateLimiter } from '../rate-limiter.js';
import { SecretBatcher, type BatchAnswer } from './secret-batcher.js';

/** GetParameters takes at most 10 names per call. */
const GET_PARAMETERS_BATCH = 10;

/**
 * AWS SSM Parameter Store. "params:/app/db/password" is one parameter (SecureString decrypted); a path ending in
 * "/" ("params:/app/db/") is an object of every parameter below it, nested by path (chamber's model). Reads of
 * single parameters made together are batched by 10; a change is a new parameter version.
 */
export class SsmBackend implements SecretBackend {
  readonly name: string;
  readonly #client: SSMClient;
  readonly #batcher = new SecretBatcher((names, shown) => this.#getParameters(names, shown), GET_PARAMETERS_BATCH);
  /** Aborts calls still running when the backend closes (a batch serves several callers, none owns it). */
  readonly #closing = new AbortController();

  constructor(
    private readonly config: AwsSecretsManagerBackendConfig,
    private readonly logger: Logger,
  ) {
    this.name = config.name;
    this.#client = new SSMClient(awsClientOptions(config));
    instrumentAwsClient(this.#client, logger, new RateLimiter(config.maxRequestsPerSecond));
    limitAwsResponses(this.#client);
  }

  /** An SSM backend whose region is known (a config error at start otherwise). */
  static async open(config: AwsSecretsManagerBackendConfig, logger: Logger): Promise<SsmBackend> {
    const backend = new SsmBackend(config, logger);
    await requireRegion(backend.#client, config.name);
    return backend;
  }

  async fetch(path: string, context: FetchContext): Promise<FetchedSecret> {
    const lifetime = { kind: 'poll', intervalMs: this.config.refreshIntervalMs } as const;
    // A name computed from a secret shows as its label, in errors and in the log of a call in flight.
    const shown = context.label ?? path;
    if (path.endsWith('/')) {
      const parameters = await this.#byPath(path, shown, context.signal);
      const value: Record<string, unknown> = {};
      for (const p of parameters) setNested(value, (p.Name ?? '').slice(path.length).split('/').filter(Boolean), p.Value ?? '');
      const version = fingerprint(
        parameters
          .map((p) => `${p.Name ?? ''}@${p.Version ?? 0}`)
          .sort()
          .join('\n'),
      );
      return { value: new Sealed(value), version, lifetime };
    }
    const parameter = await this.#batcher.get(path, context.signal, shown);
    if (parameter.secretString === undefined)
      throw new SidecarError('SIDECAR_ERR_BACKEND_MALFORMED', `backend "${this.name}": ${shown}: the answer holds no value`, { retryable: false });
    const source = { id: parameter.versionId, order: [Number(parameter.versionId) || 0] };
    return { value: new Sealed(parameter.secretString), version: `ssm:${parameter.versionId}`, lifetime, source };
  }

  async close(): Promise<void> {
    this.#closing.abort(new SidecarError('SIDECAR_ERR_BACKEND_UNAVAILABLE', `backend "${this.name}": closed`));
    this.#client.destroy();
    await Promise.resolve();
  }

  #send<T>(what: string, signal: AbortSignal, send: (abortSignal: AbortSignal) => Promise<T>): Promise<T> {
    return sendBounded(what, { signals: [signal, this.#closing.signal], timeoutMs: this.config.requestTimeoutMs, logger: this.logger }, send);
  }

  async #getParameters(names: string[], shown: string[]): Promise<BatchAnswer> {
    const command = new GetParametersCommand({ Names: names, WithDecryption: true });
    const answer = await this.#send(`backend "${this.name}": ${names.length} parameters`, this.#closing.signal, (abortSignal) =>
      this.#client.send(command, { abortSignal }),
    );
    const errors = new Map(
      (answer.InvalidParameters ?? []).map((n) => [
        n,
        new SidecarError('SIDECAR_ERR_BACKEND_NOT_FOUND', `backend "${this.name}": parameter ${shown[names.indexOf(n)] ?? '?'} not found`),
      ]),
    );
    const values = (answer.Parameters ?? []).map((p) => ({
      name: p.Name,
      arn: p.ARN,
      versionId: String(p.Version ?? 0),
      secretString: p.Value,
      secretBinary: undefined,
    }));
    return { values, errors };
  }

  async #byPath(path: string, shown: string, signal: AbortSignal): Promise<Parameter[]> {
    const parameters: Parameter[] = [];
    let nextToken: string | undefined;
    do {
      const command = new GetParametersByPathCommand({ Path: path, Recursive: true, WithDecryption: true, ...(nextToken ? { NextToken: nextToken } : {}) });
      const page = await this.#send(`backend "${this.name}": ${shown}`, signal, (abortSignal) => this.#client.send(command, { abortSignal }));
      parameters.push(...(page.Parameters ?? []));
      nextToken = page.NextToken;
    } while (nextToken);
    if (parameters.length === 0) throw new SidecarError('SIDECAR_ERR_BACKEND_NOT_FOUND', `backend "${this.name}": no parameters under ${shown}`);
    return parameters;
  }
}

function setNested(target: Record<string, unknown>, keys: readonly string[], value: string): void {
  let node = target;
  keys.forEach((key, i) => {
    if (i === keys.length - 1) node[key] = value;
    else node = (node[key] ??= {}) as Record<string, unknown>;
  });
}
