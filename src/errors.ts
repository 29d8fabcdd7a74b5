/**
 * Coded errors. Every failure the user can meet has a stable code; the CLI maps a code's category to a
 * documented exit code, and the watcher decides whether to retry from `retryable`, never from message text.
 */

/** What kind of failure an error is; each category has its own process exit code (see cli/exit-codes.ts). */
export type ErrorCategory = 'usage' | 'config' | 'template' | 'backend' | 'render' | 'output' | 'timeout' | 'reload' | 'convert' | 'internal';

interface CodeSpec {
  readonly category: ErrorCategory;
  readonly retryable: boolean;
  /** One line for the README's error table. */
  readonly summary: string;
}

export const ERROR_CODES = {
  SIDECAR_ERR_USAGE: { category: 'usage', retryable: false, summary: 'The command line is invalid.' },
  SIDECAR_ERR_CONFIG_READ: { category: 'config', retryable: false, summary: 'The config file cannot be read.' },
  SIDECAR_ERR_CONFIG_SYNTAX: { category: 'config', retryable: false, summary: 'The config file is not valid HCL or JSON.' },
  SIDECAR_ERR_CONFIG_INVALID: {
    category: 'config',
    retryable: false,
    summary: 'The config parses but breaks the schema (unknown key, wrong type, bad value).',
  },
  SIDECAR_ERR_TEMPLATE_READ: { category: 'template', retryable: false, summary: 'A template source file cannot be read.' },
  SIDECAR_ERR_TEMPLATE_SYNTAX: { category: 'template', retryable: false, summary: 'A template has a Handlebars syntax error or uses an unknown helper.' },
  SIDECAR_ERR_TEMPLATE_REF: {
    category: 'template',
    retryable: false,
    summary: 'A template names a malformed secret reference or an unconfigured backend in a literal.',
  },
  SIDECAR_ERR_REF_INVALID: { category: 'render', retryable: false, summary: 'A secret reference is malformed or names an unknown backend.' },
  SIDECAR_ERR_RENDER_MISSING_KEY: { category: 'render', retryable: false, summary: 'A secret has no value at the key a template asked for.' },
  SIDECAR_ERR_RENDER_FAILED: {
    category: 'render',
    retryable: false,
    summary: 'A template failed while rendering (helper error, missing field in strict mode).',
  },
  SIDECAR_ERR_RENDER_TOO_LARGE: { category: 'render', retryable: false, summary: 'A template renders more than its max_size (default 1 MiB).' },
  SIDECAR_ERR_RENDER_BUDGET: {
    category: 'render',
    retryable: false,
    summary: 'A template does more work than a render may (loop iterations and helper calls past the budget).',
  },
  SIDECAR_ERR_RENDER_BINARY: {
    category: 'render',
    retryable: false,
    summary: 'Binary bytes reached a place that takes text only: a text helper (trim, indent, json), a reference, or an env_template.',
  },
  SIDECAR_ERR_RENDER_UNSETTLED: { category: 'render', retryable: false, summary: 'A template kept asking for new secrets past the render limit.' },
  SIDECAR_ERR_BACKEND_NOT_FOUND: { category: 'backend', retryable: false, summary: 'The backend has no secret at that path.' },
  SIDECAR_ERR_BACKEND_UNAVAILABLE: { category: 'backend', retryable: true, summary: 'The backend cannot be reached or its source cannot be read right now.' },
  SIDECAR_ERR_BACKEND_THROTTLED: {
    category: 'backend',
    retryable: true,
    summary: 'The backend asked us to slow down (HTTP 429, a throttling exception): retried after its Retry-After, or a longer backoff.',
  },
  SIDECAR_ERR_BACKEND_MALFORMED: { category: 'backend', retryable: true, summary: 'The backend answered with data that cannot be decoded.' },
  SIDECAR_ERR_BACKEND_DENIED: { category: 'backend', retryable: false, summary: 'The backend refused access to the secret.' },
  SIDECAR_ERR_BACKEND_KEY: {
    category: 'backend',
    retryable: false,
    summary: 'The private key to decrypt a source is missing, unreadable, or not the one it was encrypted for.',
  },
  SIDECAR_ERR_BACKEND_DECRYPT: {
    category: 'backend',
    retryable: false,
    summary: 'An encrypted value does not decrypt: it was changed after encryption, or encrypted for another key.',
  },
  SIDECAR_ERR_BACKEND_INACTIVE: { category: 'backend', retryable: false, summary: 'The secret is disabled, not valid yet, or expired.' },
  SIDECAR_ERR_BACKEND_TLS: {
    category: 'backend',
    retryable: false,
    summary: "TLS failed on a certificate: the backend's cannot be verified (unknown CA, wrong host name, expired), or it refused ours.",
  },
  SIDECAR_ERR_CACHE_REFUSED: {
    category: 'backend',
    retryable: false,
    summary:
      "A file in a backend's cache (or the cache directory) is not a private regular file of the sidecar's user on tmpfs, or does not parse: it is ignored, and what it held is fetched anew.",
  },
  SIDECAR_ERR_OUTPUT_NOT_TMPFS: {
    category: 'output',
    retryable: false,
    summary: 'The destination is not on tmpfs or ramfs and the template does not allow disk.',
  },
  SIDECAR_ERR_OUTPUT_WRITE: {
    category: 'output',
    retryable: false,
    summary: 'The rendered file could not be written, chmod-ed, chown-ed or renamed into place.',
  },
  SIDECAR_ERR_OUTPUT_UNSAFE_DIR: {
    category: 'output',
    retryable: false,
    summary:
      'With strict = true: a destination directory is a symlink, writable by all without the sticky bit, or owned by another user; in any mode, a write finds its directory off tmpfs (moved or swapped while running; retried in `run`).',
  },
  SIDECAR_ERR_OUTPUT_OWNER: { category: 'output', retryable: false, summary: 'The user or group named for a destination does not exist.' },
  SIDECAR_ERR_RELOAD_TARGET_MISSING: {
    category: 'reload',
    retryable: true,
    summary: 'A notify target is not there: no pid file, a stale pid, or no process matching the pattern.',
  },
  SIDECAR_ERR_RELOAD_DENIED: {
    category: 'reload',
    retryable: false,
    summary: 'The sidecar may not signal that process (another user, or no shared PID namespace).',
  },
  SIDECAR_ERR_RELOAD_FAILED: {
    category: 'reload',
    retryable: true,
    summary: 'A notify hook failed: an HTTP status other than 2xx, or a command that exited non-zero.',
  },
  SIDECAR_ERR_RELOAD_TIMEOUT: { category: 'reload', retryable: true, summary: 'A notify hook did not finish within its timeout (a command is killed).' },
  SIDECAR_ERR_ROLLOUT_UNVERSIONED: {
    category: 'config',
    retryable: false,
    summary:
      'A template that notifies a rollout target reads a secret whose source has no version (a file, ejson, KV v1): a rollout every replica agrees on cannot be derived from it.',
  },
  SIDECAR_ERR_ROLLOUT_CONNECTION: {
    category: 'config',
    retryable: false,
    summary:
      'A rollout target cannot tell how to reach the Kubernetes API: the kubeconfig is unreadable or uses what is not supported (exec plugins), or the in-cluster service account and KUBERNETES_SERVICE_HOST are missing.',
  },
  SIDECAR_ERR_ROLLOUT_DENIED: {
    category: 'reload',
    retryable: false,
    summary: 'The Kubernetes API refused the rollout patch: 401 (credentials rejected) or 403 (RBAC: no get or patch on that workload).',
  },
  SIDECAR_ERR_ROLLOUT_NOT_FOUND: {
    category: 'reload',
    retryable: true,
    summary: "The rollout target's workload (or its namespace) does not exist: not created yet, or deleted.",
  },
  SIDECAR_ERR_WEBHOOK_TLS: {
    category: 'config',
    retryable: false,
    summary: "The webhook's certificate or key file cannot be read or does not make a usable pair (at start; later, the last good pair is kept).",
  },
  SIDECAR_ERR_WEBHOOK_KUBE: {
    category: 'backend',
    retryable: true,
    summary: 'The webhook cannot read from the Kubernetes API server (a ConfigMap, the pods it scans at start): unreachable, too slow, or refused.',
  },
  SIDECAR_ERR_CONVERT_INCOMPLETE: {
    category: 'convert',
    retryable: false,
    summary: '`convert` could not translate everything: the report lists each construct with its file, line and what to do instead.',
  },
  SIDECAR_ERR_TIMEOUT: { category: 'timeout', retryable: false, summary: '`once` did not finish within --timeout.' },
  SIDECAR_ERR_INTERNAL: { category: 'internal', retryable: false, summary: 'A bug: an unexpected error inside secrets-sidecar.' },
} as const satisfies Record<string, CodeSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface SidecarErrorOptions {
  readonly hint?: string;
  readonly cause?: unknown;
  /** Overrides the code's default, e.g. a normally retryable read that is known to be permanent. */
  readonly retryable?: boolean;
  /** The server asked to wait this long before trying again (Retry-After); the retry loop honours it within its cap. */
  readonly retryAfterMs?: number | undefined;
}

export class SidecarError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;

  constructor(code: ErrorCode, message: string, options: SidecarErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SidecarError';
    this.code = code;
    this.hint = options.hint;
    this.retryable = options.retryable ?? ERROR_CODES[code].retryable;
    this.retryAfterMs = options.retryAfterMs;
  }

  get category(): ErrorCategory {
    return ERROR_CODES[this.code].category;
  }
}

export function isSidecarError(value: unknown): value is SidecarError {
  return value instanceof SidecarError;
}

/** Wraps anything thrown into a SidecarError, keeping coded errors as they are. */
export function toSidecarError(value: unknown, fallback: ErrorCode = 'SIDECAR_ERR_INTERNAL'): SidecarError {
  if (isSidecarError(value)) return value;
  const message = value instanceof Error ? value.message : String(value);
  return new SidecarError(fallback, message, { cause: value });
}
