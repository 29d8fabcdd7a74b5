import type { RolloutAction } from '../config/types.js';
import { SidecarError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { SourceVersion } from '../source-version.js';
import type { KubeConnection } from './kube-connection.js';
import type { KubeAnswer } from './kube-request.js';
import { newerVersions, planAnnotation, ROLLOUT_ANNOTATION, type VersionMap } from './rollout-annotation.js';

/** A secret a template that notifies the target read in its last render. */
export interface RolloutRef {
  /** What logs may show of the reference. */
  readonly label: string;
  readonly template: string;
  /** The version its source gave it; undefined for files, ejson, KV v1 and dynamic secrets. */
  readonly source: SourceVersion | undefined;
  /** Issued for this pod alone (a database lease, a certificate): never a reason to restart the others. */
  readonly dynamic: boolean;
}

export interface RolloutTargetOptions {
  readonly name: string;
  readonly action: RolloutAction;
  /** The secrets the target's templates read, as they are now. */
  readonly refs: () => readonly RolloutRef[];
  /** The sidecar's own environment (KUBERNETES_SERVICE_HOST and _PORT, the test override of the token directory). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The versions each target last rolled out for (or saw at start), kept across SIGHUP reloads. */
  readonly memory: Map<string, VersionMap>;
  readonly logger: Logger;
}

/** Tries of read, compare and patch when the workload changed in between (409 Conflict). */
const CONFLICT_ATTEMPTS = 5;
const PLURALS = { Deployment: 'deployments', StatefulSet: 'statefulsets', DaemonSet: 'daemonsets' } as const;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/**
 * Restarts a workload's pods, as `kubectl rollout restart` does, when a versioned secret its templates read got a
 * new version: the pod-template annotation is patched to the versions seen (see rollout-annotation.ts). The first
 * render after a start only records the versions; dynamic secrets never trigger it. The Kubernetes client loads
 * only when such a target is configured.
 */
export class RolloutTarget {
  readonly name: string;
  readonly #what: string;
  readonly #memoryKey: string;
  #connection: Promise<KubeConnection> | undefined;

  constructor(private readonly options: RolloutTargetOptions) {
    this.name = options.name;
    this.#what = `notify "${options.name}"`;
    this.#memoryKey = `${options.name}\n${JSON.stringify(options.action)}`;
  }

  /**
   * Every template rendered for the first time: refuse secrets without a version, warn about dynamic ones, record
   * the versions (a later change is measured against them), and check the connection settings.
   */
  async onFirstRender(): Promise<void> {
    const { logger, memory } = this.options;
    const refs = this.options.refs();
    const unversioned = refs.find((ref) => ref.source === undefined && !ref.dynamic);
    if (unversioned) throw this.#unversioned(unversioned);
    for (const template of new Set(refs.map((ref) => ref.template))) {
      const own = refs.filter((ref) => ref.template === template);
      const dynamic = own.filter((ref) => ref.dynamic).map((ref) => ref.label);
      if (dynamic.length === 0) continue;
      const versioned = own.length > dynamic.length;
      logger.warn(
        { notify: this.name, template, dynamic },
        versioned
          ? 'this template mixes per-pod dynamic secrets with versioned ones: only the versioned ones trigger a rollout restart'
          : 'this template reads per-pod dynamic secrets only: it never triggers a rollout restart',
      );
    }
    if (!memory.has(this.#memoryKey)) memory.set(this.#memoryKey, versionsOf(refs));
    await this.#connect();
  }

  async fire(): Promise<string> {
    const refs = this.options.refs();
    const unversioned = refs.find((ref) => ref.source === undefined && !ref.dynamic);
    if (unversioned) throw this.#unversioned(unversioned);
    const ours = versionsOf(refs);
    const seen = this.options.memory.get(this.#memoryKey);
    if (seen === undefined) {
      this.options.memory.set(this.#memoryKey, ours);
      return 'first render: versions recorded, no rollout';
    }
    const changed = newerVersions(ours, seen);
    if (changed.length === 0) {
      // References new since the last look (a template that reads another secret now) join the record.
      this.options.memory.set(this.#memoryKey, new Map([...ours, ...seen]));
      return 'no versioned secret changed: no rollout';
    }
    const outcome = await this.#rollOut(ours, new Set(changed));
    this.options.memory.set(this.#memoryKey, ours);
    this.options.logger.info({ notify: this.name, changed, workload: this.#workload() }, outcome);
    return outcome;
  }

  async #rollOut(ours: VersionMap, changed: ReadonlySet<string>): Promise<string> {
    const { action } = this.options;
    const connection = await this.#connect();
    const namespace = action.namespace ?? connection.namespace;
    if (namespace === undefined || !DNS_LABEL.test(namespace))
      throw new SidecarError('SIDECAR_ERR_ROLLOUT_CONNECTION', `${this.#what}: no namespace given, and ${connection.source} names none that is valid`, {
        hint: 'set namespace in the rollout block',
      });
    const { callKube } = await import('./kube-request.js');
    const path = `/apis/apps/v1/namespaces/${namespace}/${PLURALS[action.workload]}/${action.name}`;
    const workload = `${action.workload.toLowerCase()} ${namespace}/${action.name}`;
    for (let attempt = 1; attempt <= CONFLICT_ATTEMPTS; attempt++) {
      const read = await callKube(connection, { method: 'GET', path, timeoutMs: action.timeoutMs, what: `${this.#what}: GET ${workload}` });
      this.#check(read, `GET ${workload}`);
      const metadata = (read.body?.['metadata'] ?? {}) as { resourceVersion?: unknown };
      // Without it the patch would be unconditional, and could move the annotation back: an answer that is not a
      // workload (a proxy's page) is a failure, not something to patch against.
      if (typeof metadata.resourceVersion !== 'string' || metadata.resourceVersion === '')
        throw new SidecarError('SIDECAR_ERR_RELOAD_FAILED', `${this.#what}: GET ${workload}: the answer is not a workload (no resourceVersion)`);
      const template = ((read.body?.['spec'] as { template?: { metadata?: { annotations?: Record<string, unknown> } } } | undefined)?.template ?? {}).metadata;
      const current = template?.annotations?.[ROLLOUT_ANNOTATION];
      const next = planAnnotation(typeof current === 'string' ? current : undefined, ours, changed);
      if (next === undefined) return `${workload} is already rolled out for these versions (another replica patched it)`;
      // The resourceVersion makes the patch conditional: a replica that patched in between makes this one read again,
      // so the annotation is never moved back to versions older than what it holds.
      const patch = {
        metadata: { resourceVersion: metadata.resourceVersion },
        spec: { template: { metadata: { annotations: { [ROLLOUT_ANNOTATION]: next } } } },
      };
      const written = await callKube(connection, {
        method: 'PATCH',
        path,
        body: patch,
        contentType: 'application/merge-patch+json',
        timeoutMs: action.timeoutMs,
        what: `${this.#what}: PATCH ${workload}`,
      });
      if (written.status === 409) {
        this.options.logger.debug({ notify: this.name, workload, attempt }, 'the workload changed between read and patch (409): reading it again');
        continue;
      }
      this.#check(written, `PATCH ${workload}`);
      return `rollout restart of ${workload}`;
    }
    throw new SidecarError(
      'SIDECAR_ERR_RELOAD_FAILED',
      `${this.#what}: ${workload} kept changing between read and patch (409 Conflict ${CONFLICT_ATTEMPTS} times)`,
    );
  }

  #check(answer: KubeAnswer, what: string): void {
    if (answer.status >= 200 && answer.status <= 299) return;
    const reason = statusReason(answer);
    const message = `${this.#what}: ${what}: ${answer.status}${reason ? ` (${reason})` : ''}`;
    if (answer.status === 401 || answer.status === 403)
      throw new SidecarError('SIDECAR_ERR_ROLLOUT_DENIED', message, {
        hint: `grant the sidecar's service account get and patch on this ${this.options.action.workload} (see the README's Role)`,
      });
    if (answer.status === 404) throw new SidecarError('SIDECAR_ERR_ROLLOUT_NOT_FOUND', message);
    const retryable = answer.status === 409 || answer.status === 429 || answer.status >= 500;
    throw new SidecarError('SIDECAR_ERR_RELOAD_FAILED', message, { retryable });
  }

  #connect(): Promise<KubeConnection> {
    if (this.#connection === undefined) {
      const opening = import('./kube-connection.js').then(({ openConnection }) => openConnection(this.options.action.kubeconfig, this.options.env));
      // A failed read of the settings is tried again at the next firing (a token not mounted yet).
      opening.catch(() => {
        if (this.#connection === opening) this.#connection = undefined;
      });
      this.#connection = opening;
    }
    return this.#connection;
  }

  #workload(): string {
    const { action } = this.options;
    return `${action.workload} ${action.namespace ?? '(own namespace)'}/${action.name}`;
  }

  #unversioned(ref: RolloutRef): SidecarError {
    return new SidecarError(
      'SIDECAR_ERR_ROLLOUT_UNVERSIONED',
      `${this.#what}: template ${ref.template} reads ${ref.label}, whose source gives no version (a file, ejson or KV v1): a rollout cannot be derived from it`,
      { hint: 'keep secrets that restart pods in a versioned store (KV v2, AWS, Azure, GCP), or notify this template another way' },
    );
  }
}

function versionsOf(refs: readonly RolloutRef[]): Map<string, SourceVersion> {
  const versions = new Map<string, SourceVersion>();
  for (const ref of refs) if (ref.source !== undefined) versions.set(ref.label, ref.source);
  return versions;
}

/** The API server's reason (a Status object's message), short, on one line. */
function statusReason(answer: KubeAnswer): string {
  const message = answer.body?.['message'];
  return typeof message === 'string' ? message.replace(/[^\x20-\x7e\u00a0-\uffff]+/g, ' ').slice(0, 300) : '';
}
