import {
  BatchGetSecretValueCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import type { AwsSecretsManagerBackendConfig } from './provider.js';
import type { Logger } from '../../log/logger.js';
import { Sealed } from '../../sealed.js';
import { timeOrder } from '../../source-version.js';
import type { FetchedSecret, FetchContext, SecretBackend } from '../types.js';
import { errorFields } from '../../log/error-fields.js';
import { SidecarError } from '../../errors.js';
import { awsError } from './aws-errors.js';
import { requireRegion, sendBounded } from './aws-call.js';
import { awsClientOptions, instrumentAwsClient } from './call-log.js';
import { limitAwsResponses } from './response-limit.js';
import { RateLimiter } from '../rate-limiter.js';
import { SecretBatcher, type BatchAnswer, type BatchedValue } from './secret-batcher.js';

interface SecretRequest {
  readonly secretId: string;
  /** The stage asked for (AWSCURRENT unless ?stage=), or undefined with ?version_id=. */
  readonly stage: string | undefined;
  readonly versionId: string | undefined;
}

/** How long after NextRotationDate the extra check runs: a rotation Lambda needs a moment to finish. */
export const ROTATION_GRACE_MS = 15_000;
/** ListSecrets takes at most 10 values in one filter. */
const LIST_FILTER_VALUES = 10;

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
  readonly name: string;
  readonly #client: SecretsManagerClient;
  /** The last value read per reference, with the version it came from. */
  readonly #known = new Map<string, { versionId: string; createdDate: Date | undefined; value: unknown }>();
  /** When each secret (by the id references use) is next due to rotate, as DescribeSecret or ListSecrets said. */
  readonly #nextRotation = new Map<string, number>();
  readonly #batcher = new SecretBatcher((ids, shown) => this.#batchGet(ids, shown));
  #listDenied = false;
  /** Secrets whose scheduled deletion was already warned about (once per secret and date, not per poll). */
  readonly #deletionWarned = new Map<string, number>();
  /** Aborts calls still running when the backend closes (a batch serves several callers, none owns it). */
  readonly #closing = new AbortController();

  constructor(
    private readonly config: AwsSecretsManagerBackendConfig,
    private readonly logger: Logger,
    /** `run`: learn rotation schedules along with first reads. A `once` run needs none. */
    private readonly live = false,
  ) {
    this.name = config.name;
    this.#client = new SecretsManagerClient(awsClientOptions(config));
    instrumentAwsClient(this.#client, logger, new RateLimiter(config.maxRequestsPerSecond));
    limitAwsResponses(this.#client);
  }

  /** A Secrets Manager backend whose region is known (a config error at start otherwise). */
  static async open(config: AwsSecretsManagerBackendConfig, logger: Logger, live = false): Promise<SecretsManagerBackend> {
    const backend = new SecretsManagerBackend(config, logger, live);
    await requireRegion(backend.#client, config.name);
    return backend;
  }

  async fetch(path: string, context: FetchContext): Promise<FetchedSecret> {
    const request = parseSecretRequest(path);
    // A secret id computed from a secret shows as its label, in errors and in the log of a call in flight.
    const shown = context.label ?? request.secretId;
    const what = `backend "${this.name}": ${shown}`;
    const known = this.#known.get(path);
    if (known && request.stage) {
      const current = await this.#versionInStage(request, context.label ?? path, context.signal);
      if (current === known.versionId) return this.#result(known, request);
    }
    // The first read of a current version goes into a batch with the others asked for at the same time.
    let answer: BatchedValue;
    try {
      answer =
        !known && request.stage === 'AWSCURRENT'
          ? await this.#batcher.get(request.secretId, context.signal, shown)
          : await this.#getOne(request, what, context.signal);
    } catch (error) {
      throw await this.#explainUnreadable(error, request.secretId, what, context.signal);
    }
    const value = decodeValue(answer, what);
    const read = { versionId: answer.versionId, createdDate: answer.createdDate, value };
    this.#known.set(path, read);
    return this.#result(read, request);
  }

  #send<T>(what: string, signal: AbortSignal, send: (abortSignal: AbortSignal) => Promise<T>): Promise<T> {
    return sendBounded(what, { signals: [signal, this.#closing.signal], timeoutMs: this.config.requestTimeoutMs, logger: this.logger }, send);
  }

  async #getOne(request: SecretRequest, what: string, signal: AbortSignal): Promise<BatchedValue> {
    const command = new GetSecretValueCommand({
      SecretId: request.secretId,
      ...(request.stage ? { VersionStage: request.stage } : { VersionId: request.versionId }),
    });
    const answer = await this.#send(what, signal, (abortSignal) => this.#client.send(command, { abortSignal }));
    return { versionId: answer.VersionId ?? '', createdDate: answer.CreatedDate, secretString: answer.SecretString, secretBinary: answer.SecretBinary };
  }

  async #batchGet(ids: string[], shown: string[]): Promise<BatchAnswer> {
    const command = new BatchGetSecretValueCommand({ SecretIdList: ids });
    const answer = await this.#send(`backend "${this.name}": ${batchName(shown)}`, this.#closing.signal, (abortSignal) =>
      this.#client.send(command, { abortSignal }),
    );
    const shownOf = (id: string | undefined) => (id === undefined ? '?' : (shown[ids.indexOf(id)] ?? '?'));
    const errors = new Map(
      (answer.Errors ?? []).map((e) => [e.SecretId ?? '', awsError({ name: e.ErrorCode }, `backend "${this.name}": ${shownOf(e.SecretId)}`)]),
    );
    const values = (answer.SecretValues ?? []).map((v) => ({
      name: v.Name,
      arn: v.ARN,
      versionId: v.VersionId ?? '',
      createdDate: v.CreatedDate,
      secretString: v.SecretString,
      secretBinary: v.SecretBinary,
    }));
    if (this.live) await this.#learnRotations(ids, values);
    return { values, errors };
  }

  /**
   * A batched read says nothing of rotation schedules, and the first DescribeSecret comes a refresh_interval
   * later: ListSecrets (one call per 10 names) tells NextRotationDate now, so a rotation due soon after start
   * is checked for on time. Best effort: a role without secretsmanager:ListSecrets learns it at the first refresh.
   */
  async #learnRotations(ids: readonly string[], values: readonly { name?: string | undefined; arn?: string | undefined }[]): Promise<void> {
    if (this.#listDenied) return;
    const idByName = new Map<string, string>();
    for (const v of values) {
      const id = ids.find((candidate) => candidate === v.name || candidate === v.arn);
      if (id !== undefined && v.name !== undefined) idByName.set(v.name, id);
    }
    const names = [...idByName.keys()];
    try {
      for (let start = 0; start < names.length; start += LIST_FILTER_VALUES) {
        const chunk = names.slice(start, start + LIST_FILTER_VALUES);
        // A name filter matches by prefix: only exact names count.
        const command = new ListSecretsCommand({ Filters: [{ Key: 'name', Values: chunk }], MaxResults: 100 });
        const listed = await this.#send(`backend "${this.name}": ListSecrets`, this.#closing.signal, (abortSignal) =>
          this.#client.send(command, { abortSignal }),
        );
        for (const entry of listed.SecretList ?? []) {
          const id = entry.Name === undefined ? undefined : idByName.get(entry.Name);
          if (id !== undefined && entry.NextRotationDate) this.#nextRotation.set(id, entry.NextRotationDate.getTime());
        }
      }
    } catch (error) {
      if (this.#closing.signal.aborted) return;
      this.#listDenied = true;
      this.logger.info({ error: errorFields(error) }, 'cannot list secrets to learn rotation schedules; they are learned at the first refresh instead');
    }
  }

  async close(): Promise<void> {
    this.#closing.abort(new SidecarError('SIDECAR_ERR_BACKEND_UNAVAILABLE', `backend "${this.name}": closed`));
    this.#client.destroy();
    await Promise.resolve();
  }

  /** `shown`: the path as messages may show it. */
  async #versionInStage(request: SecretRequest, shown: string, signal: AbortSignal): Promise<string | undefined> {
    const command = new DescribeSecretCommand({ SecretId: request.secretId });
    const described = await this.#send(`backend "${this.name}": ${shown}`, signal, (abortSignal) => this.#client.send(command, { abortSignal }));
    if (described.NextRotationDate) this.#nextRotation.set(request.secretId, described.NextRotationDate.getTime());
    else this.#nextRotation.delete(request.secretId);
    if (described.DeletedDate) this.#warnDeletion(request.secretId, shown, described.DeletedDate);
    else this.#deletionWarned.delete(request.secretId);
    return Object.entries(described.VersionIdsToStages ?? {}).find(([, stages]) => stages.includes(request.stage ?? ''))?.[0];
  }

  /**
   * Secrets Manager refuses to read a secret scheduled for deletion with a bare InvalidRequestException: one
   * DescribeSecret says whether that is why, and when it will be gone.
   */
  async #explainUnreadable(error: unknown, secretId: string, what: string, signal: AbortSignal): Promise<unknown> {
    if (!(error instanceof SidecarError) || (error.cause as { name?: string } | undefined)?.name !== 'InvalidRequestException') return error;
    try {
      const command = new DescribeSecretCommand({ SecretId: secretId });
      const described = await this.#send(what, signal, (abortSignal) => this.#client.send(command, { abortSignal }));
      if (!described.DeletedDate) return error;
      return new SidecarError(
        'SIDECAR_ERR_BACKEND_NOT_FOUND',
        `${what}: scheduled for deletion on ${described.DeletedDate.toISOString()}, and cannot be read until the deletion is cancelled`,
        {
          hint: 'restore it (aws secretsmanager restore-secret), or stop referring to it',
        },
      );
    } catch {
      return error;
    }
  }

  /**
   * A secret scheduled for deletion can no longer be read, but the value held is still good until the date: it
   * is served on, and someone is told, once per secret (again only if the date moves).
   */
  #warnDeletion(secretId: string, shown: string, deletedDate: Date): void {
    if (this.#deletionWarned.get(secretId) === deletedDate.getTime()) return;
    this.#deletionWarned.set(secretId, deletedDate.getTime());
    this.logger.warn(
      { secretName: shown, deletionDate: deletedDate.toISOString() },
      `secret ${shown} is scheduled for deletion on ${deletedDate.toISOString()}; the value already read is still served, and fails after that date unless the deletion is cancelled (RestoreSecret)`,
    );
  }

  #result({ versionId, createdDate, value }: { versionId: string; createdDate: Date | undefined; value: unknown }, request: SecretRequest): FetchedSecret {
    // A pinned version never changes; a stage moves with rotations and is checked every refresh_interval, and
    // once more just after a scheduled rotation is due, so the new value arrives in seconds, not an interval later.
    const rotation = this.#nextRotation.get(request.secretId);
    const lifetime = request.versionId
      ? ({ kind: 'until-changed' } as const)
      : ({ kind: 'poll', intervalMs: this.config.refreshIntervalMs, checkAt: rotation === undefined ? undefined : rotation + ROTATION_GRACE_MS } as const);
    return { value: new Sealed(value), version: `aws:${versionId}`, lifetime, source: { id: versionId, order: [timeOrder(createdDate)] } };
  }
}

/** "app/db", or "a batch of 3 secrets (app/db, app/token, app/key)": names as messages may show them, never values. */
function batchName(ids: readonly string[]): string {
  return ids.length === 1 ? (ids[0] ?? '') : `a batch of ${ids.length} secrets (${ids.slice(0, 3).join(', ')}${ids.length > 3 ? ', …' : ''})`;
}

/** AWS stores at most 64 KiB in a secret: more comes from a server that is not Secrets Manager, or lies. */
const MAX_SECRET_BYTES = 65_536;

/** A secret's value: SecretBinary as base64 text, else SecretString (a JSON object when it holds one). */
function decodeValue(answer: BatchedValue, what: string): unknown {
  const bytes = answer.secretBinary?.length ?? Buffer.byteLength(answer.secretString ?? '');
  if (bytes > MAX_SECRET_BYTES)
    throw new SidecarError('SIDECAR_ERR_BACKEND_MALFORMED', `${what}: the value is ${bytes} bytes, more than the ${MAX_SECRET_BYTES} AWS allows a secret`, {
      retryable: false,
    });
  if (answer.secretBinary !== undefined && answer.secretBinary.length > 0) return Buffer.from(answer.secretBinary).toString('base64');
  // An empty value renders as an empty password: a secret created without one, or a lying answer.
  if (answer.secretBinary !== undefined) throw new SidecarError('SIDECAR_ERR_BACKEND_MALFORMED', `${what}: SecretBinary is empty`, { retryable: false });
  if (answer.secretString === undefined)
    throw new SidecarError('SIDECAR_ERR_BACKEND_MALFORMED', `${what}: the answer holds neither SecretString nor SecretBinary`, { retryable: false });
  if (answer.secretString === '') throw new SidecarError('SIDECAR_ERR_BACKEND_MALFORMED', `${what}: SecretString is empty`, { retryable: false });
  return decode(answer.secretString);
}

function decode(text: string): unknown {
  if (!text.trimStart().startsWith('{')) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
