import type { BackendConfig, BackendType } from '../backends/registry.js';
import type { LogFormat, LogLevel } from '../log/logger.js';

/** The config after validation and defaults: frozen, typed, every path absolute, every duration in ms. */
export interface ResolvedConfig {
  /** Absolute path of the config file; relative paths inside it were resolved against its directory. */
  readonly file: string;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  /** Environment variables the `env` template helper may read: exact names, or prefixes ending in `*`. */
  readonly envAllow: readonly string[];
  /**
   * Variables holding the sidecar's own credentials (names, prefixes ending in `*`): kept from the child, command
   * hooks and the `env` helper unless an allow list names the exact variable.
   */
  readonly credentialEnv: readonly string[];
  readonly retry: RetryPolicy;
  readonly wait: WaitPolicy;
  readonly backends: readonly BackendConfig[];
  readonly notify: readonly NotifyConfig[];
  readonly templates: readonly TemplateConfig[];
  /** The application run under the sidecar, if any. */
  readonly exec: ExecConfig | undefined;
  /** Variables rendered into the supervised child's environment (needs exec). */
  readonly envTemplates: readonly EnvTemplateConfig[];
  /** Where the sidecar writes its own pid (for a supervisor or a test harness); undefined: nowhere. */
  readonly pidFile: string | undefined;
  /** Refuse (not just warn about) destination directories others could tamper with. */
  readonly strict: boolean;
  /** Health, readiness, metrics and forced refresh over HTTP (`run` only); undefined: off. */
  readonly listener: ListenerConfig | undefined;
  /** Where audit records go as JSON lines, besides the log; undefined: the log only. */
  readonly audit: AuditConfig | undefined;
}

export interface ListenerConfig {
  readonly host: string;
  readonly port: number;
  /** How long a secret may keep failing before /readyz says 503. */
  readonly readinessGraceMs: number;
  /** Where the forced-refresh token is read from; neither: POST /v1/refresh is off. */
  readonly refreshTokenFile: string | undefined;
  readonly refreshTokenEnv: string | undefined;
}

export type AuditConfig = { readonly kind: 'file'; readonly path: string } | { readonly kind: 'stdout' };

export interface RetryPolicy {
  /** Attempts after the first failure; 0 means retry for as long as the process runs. */
  readonly attempts: number;
  readonly backoffMs: number;
  readonly maxBackoffMs: number;
}

/** Quiescence: render once no change has arrived for `minMs`, but never later than `maxMs` after the first. */
export interface WaitPolicy {
  readonly minMs: number;
  readonly maxMs: number;
}

/** The default limit on what one template renders (max_size). */
export const DEFAULT_MAX_RENDER_BYTES = 1024 * 1024;

/** A backend's resolved config: the union of what the registered providers resolve to (src/backends/registry.ts). */
export type { BackendConfig, BackendType };

/** The reload target name that stands for the supervised child. */
export const EXEC_TARGET = 'exec';

export interface ExecConfig {
  readonly command: readonly string[];
  /** undefined: restart the child when its files change. */
  readonly reloadSignal: string | undefined;
  readonly killSignal: string;
  readonly killTimeoutMs: number;
  readonly splayMs: number;
  readonly restart: 'never' | 'on-failure';
  readonly env: ChildEnvPolicy;
}

/** Which of the sidecar's variables the child inherits. */
export interface ChildEnvPolicy {
  /** Start from an empty environment instead of the sidecar's. */
  readonly pristine: boolean;
  /** When non-empty, only these pass (names or prefixes ending in "*"); naming a denied variable here allows it. */
  readonly allow: readonly string[];
  /** Never pass these; the sidecar's own credential variables are always added. */
  readonly deny: readonly string[];
}

export interface EnvTemplateConfig {
  /** The variable's name, which messages also use. */
  readonly name: string;
  readonly source: string | undefined;
  readonly contents: string | undefined;
  readonly errorOnMissingKey: boolean;
}

/** How one reload target is reached. */
export type NotifyAction =
  | { readonly kind: 'pid-file'; readonly pidFile: string; readonly signal: string }
  | { readonly kind: 'process'; readonly pattern: string; readonly signal: string }
  | {
      readonly kind: 'http';
      readonly url: string;
      readonly method: 'GET' | 'POST' | 'PUT';
      readonly headers: Readonly<Record<string, string>>;
      readonly timeoutMs: number;
    }
  | { readonly kind: 'command'; readonly command: readonly string[]; readonly timeoutMs: number }
  | RolloutAction;

/** A rollout restart of a workload, as `kubectl rollout restart` does it: a pod-template annotation patched. */
export interface RolloutAction {
  readonly kind: 'rollout';
  readonly workload: 'Deployment' | 'StatefulSet' | 'DaemonSet';
  readonly name: string;
  /** undefined: the pod's own namespace (the service account's, or the kubeconfig context's). */
  readonly namespace: string | undefined;
  /** undefined: in-cluster (the service-account token and CA, KUBERNETES_SERVICE_HOST and _PORT). */
  readonly kubeconfig: string | undefined;
  /** The bound of each request to the API server. */
  readonly timeoutMs: number;
}

export interface NotifyConfig {
  readonly name: string;
  readonly action: NotifyAction;
}

export interface TemplateConfig {
  /** Position in the config, for messages when there is no source file. */
  readonly index: number;
  /** What messages call this template: its source path as written, or "template[i] (contents)". */
  readonly name: string;
  readonly source: string | undefined;
  readonly contents: string | undefined;
  readonly destination: string;
  readonly perms: number;
  readonly user: number | string | undefined;
  readonly group: number | string | undefined;
  readonly createDestDirs: boolean;
  readonly errorOnMissingKey: boolean;
  /** The most this template may render, in bytes. */
  readonly maxBytes: number;
  readonly allowNonTmpfs: boolean;
  readonly wait: WaitPolicy;
  /** Names of the notify targets fired when this template's file changes. */
  readonly notify: readonly string[];
}
