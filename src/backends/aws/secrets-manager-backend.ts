import { BatchGetSecretValueCommand, DescribeSecretCommand, GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { AwsSecretsManagerBackendConfig } from '../../config/types.js';
import type { Logger } from '../../log/logger.js';
import { Sealed } from '../../sealed.js';
import type { FetchedSecret, FetchContext, SecretBackend } from '../types.js';
import { awsError } from './aws-errors.js';
import { awsClientOptions, instrumentAwsClient } from './call-log.js';
import { RateLimiter } from './rate-limiter.js';
import { SecretBatcher, type BatchAnswer, type BatchedValue } from './secret-batcher.js';

interface SecretRequest {
  readonly secretId: string;
  /** The stage asked for (AWSCURRENT unless ?stage=), or undefined with ?version_id=. */
  readonly stage: string | undefined;
  readonly versionId: string | undefined;
}

/** How long after NextRotationDate the extra check runs: a rotation Lambda needs a moment to finish. */
export const ROTATION_GRACE_MS = 15_000;

/** "app/db?stage=AWSPREVIOUS" or "app/db?version_id=…" into its parts. */
export function parseSecretRequest(path: string): SecretRequest {
  const [secretId = path, query = ''] = path.split('?', 2);
  const params = new URLSearchParams(query);
  const versionId = params.get('version_id') ?? undefined;
  return { secretId, versionId, stage: versionId ? undefined : (params.get('stage') ?? 'AWSCURRENT') };
}

/**
 * AWS Secrets Manager. A secret's value is its JSON object when SecretString holds one, else the string;
 * SecretBinary comes as base64 text. Refreshes cost one DescribeSecret: GetSecretValue runs only when the
 * version holding the wanted stage changed. The SDK finds credentials through its default chain.
 */
export class SecretsManagerBackend implements SecretBackend {
  readonly type = 'aws_secrets_manager';
  readonly name: string;
  readonly #client: SecretsManagerClient;
  /** The last value read per reference, with the version it came from. */
  readonly #known = new Map<string, { versionId: string; value: unknown }>();
  /** When each secret's next scheduled rotation is due, as DescribeSecret last said. */
  readonly #nextRotation = new Map<string, number>();
  readonly #batcher = new SecretBatcher((ids) => this.#batchGet(ids));

  constructor(
    private readonly config: AwsSecretsManagerBackendConfig,
    private readonly logger: Logger,
  ) {
    this.name = config.name;
    this.#client = new SecretsManagerClient(awsClientOptions(config));
    instrumentAwsClient(this.#client, logger, new RateLimiter(config.maxRequestsPerSecond));
  }

  async fetch(path: string, _context: FetchContext): Promise<FetchedSecret> {
    const request = parseSecretRequest(path);
    const known = this.#known.get(path);
    if (known && request.stage) {
      const current = await this.#versionInStage(request, path);
      if (current === known.versionId) return this.#result(known.versionId, known.value, request, path);
    }
    // The first read of a current version goes into a batch with the others asked for at the same time.
    const answer = !known && request.stage === 'AWSCURRENT' ? await this.#batcher.get(request.secretId) : await this.#getOne(request);
    const value = answer.secretBinary ? Buffer.from(answer.secretBinary).toString('base64') : decode(answer.secretString ?? '');
    this.#known.set(path, { versionId: answer.versionId, value });
    return this.#result(answer.versionId, value, request, path);
  }

  async #getOne(request: SecretRequest): Promise<BatchedValue> {
    try {
      const answer = await this.#client.send(new GetSecretValueCommand({ SecretId: request.secretId, ...(request.stage ? { VersionStage: request.stage } : { VersionId: request.versionId }) }));
      return { versionId: answer.VersionId ?? '', secretString: answer.SecretString, secretBinary: answer.SecretBinary };
    } catch (error) {
      throw awsError(error, `backend "${this.name}": ${request.secretId}`);
    }
  }

  async #batchGet(ids: string[]): Promise<BatchAnswer> {
    try {
      const answer = await this.#client.send(new BatchGetSecretValueCommand({ SecretIdList: ids }));
      const errors = new Map((answer.Errors ?? []).map((e) => [e.SecretId ?? '', awsError({ name: e.ErrorCode }, `backend "${this.name}": ${e.SecretId ?? '?'}`)]));
      const values = (answer.SecretValues ?? []).map((v) => ({ name: v.Name, arn: v.ARN, versionId: v.VersionId ?? '', secretString: v.SecretString, secretBinary: v.SecretBinary }));
      return { values, errors };
    } catch (error) {
      throw awsError(error, `backend "${this.name}": a batch of ${ids.length} secrets`);
    }
  }

  async close(): Promise<void> {
    this.#client.destroy();
    await Promise.resolve();
  }

  async #versionInStage(request: SecretRequest, path: string): Promise<string | undefined> {
    try {
      const described = await this.#client.send(new DescribeSecretCommand({ SecretId: request.secretId }));
      if (described.NextRotationDate) this.#nextRotation.set(path, described.NextRotationDate.getTime());
      else this.#nextRotation.delete(path);
      return Object.entries(described.VersionIdsToStages ?? {}).find(([, stages]) => stages.includes(request.stage ?? ''))?.[0];
    } catch (error) {
      throw awsError(error, `backend "${this.name}": ${path}`);
    }
  }

  #result(versionId: string, value: unknown, request: SecretRequest, path: string): FetchedSecret {
    // A pinned version never changes; a stage moves with rotations and is checked every refresh_interval, and
    // once more just after a scheduled rotation is due, so the new value arrives in seconds, not an interval later.
    const rotation = this.#nextRotation.get(path);
    const lifetime = request.versionId
      ? ({ kind: 'until-changed' } as const)
      : ({ kind: 'poll', intervalMs: this.config.refreshIntervalMs, checkAt: rotation === undefined ? undefined : rotation + ROTATION_GRACE_MS } as const);
    return { value: new Sealed(value), version: `aws:${versionId}`, lifetime };
  }
}

function decode(text: string): unknown {
  if (!text.trimStart().startsWith('{')) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
