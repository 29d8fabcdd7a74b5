import { readBounded } from '../bounded-read.js';
import { dirname, extname, resolve } from 'node:path';
import type { core } from 'zod';
import { SidecarError } from '../errors.js';
import type { LogFormat, LogLevel } from '../log/logger.js';
import { credentialEnvDenyList } from './credential-env.js';
import { formatDuration } from './duration.js';
import { locate, toPlain, type LocatedNode, type PathSegment } from './located.js';
import { parseHclConfig } from './parse-hcl.js';
import { parseJsonConfig } from './parse-json.js';
import { BACKEND_SCHEMAS, configSchema, type RawConfig, type RawExec, type RawNotify, type RawVaultAuth, type RawTemplate, type RawWait } from './schema.js';
import { checkConfigSource, checkValueCharacters, decodeConfig } from './source-limits.js';
import { formatLocation } from './syntax-error.js';
import { DEFAULT_MAX_RENDER_BYTES, EXEC_TARGET, KUBERNETES_SERVICE_ACCOUNT_TOKEN, type VaultAuthConfig, type BackendConfig, type ExecConfig, type NotifyAction, type NotifyConfig, type ListenerConfig, type AuditConfig, type ResolvedConfig, type TemplateConfig, type WaitPolicy } from './types.js';

export const DEFAULT_WAIT: WaitPolicy = Object.freeze({ minMs: 0, maxMs: 0 });
export const DEFAULT_PERMS = 0o600;
export const DEFAULT_NOTIFY_SIGNAL = 'SIGHUP';
export const DEFAULT_HTTP_TIMEOUT_MS = 5_000;
export const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;
export const DEFAULT_KILL_TIMEOUT_MS = 10_000;

/** Reads, parses, validates and resolves a config file. Every error names file:line:col and the option's path. */
export async function loadConfig(path: string): Promise<ResolvedConfig> {
  const file = resolve(path);
  let source: Buffer;
  try {
    source = await readBounded(file);
  } catch (cause) {
    const reason = (cause as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (cause as Error).message;
    throw new SidecarError('SIDECAR_ERR_CONFIG_READ', `cannot read config ${file}: ${reason}`, { cause });
  }
  return parseConfig(decodeConfig(source, file), file);
}

/** Like loadConfig, for text already in memory; `file` decides the format (.json is JSON, anything else HCL). */
export async function parseConfig(source: string, file: string): Promise<ResolvedConfig> {
  const text = checkConfigSource(source, file);
  const tree = extname(file).toLowerCase() === '.json' ? parseJsonConfig(text, file) : await parseHclConfig(text, file);
  checkValueCharacters(tree, file);
  const parsed = configSchema.safeParse(toPlain(tree));
  if (!parsed.success) throw schemaError(parsed.error.issues, tree, file);
  return resolveConfig(parsed.data, file, tree);
}

function schemaError(issues: readonly core.$ZodIssue[], tree: LocatedNode, file: string): SidecarError {
  const lines = issues.slice(0, 10).map((issue) => describeIssue(issue, tree, file));
  const more = issues.length > 10 ? `\n(and ${issues.length - 10} more)` : '';
  return new SidecarError('SIDECAR_ERR_CONFIG_INVALID', lines.join('\n') + more, {
    hint: 'sidecar.example.hcl in the project documents every option',
  });
}

function describeIssue(issue: core.$ZodIssue, tree: LocatedNode, file: string): string {
  const path = issue.path.filter((s): s is PathSegment => typeof s !== 'symbol');
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '';
    const where = formatLocation(file, locate(tree, path, key));
    const known = unknownKeyContext(path);
    return `${where}: unknown ${issue.keys.length > 1 ? 'keys' : 'key'} ${issue.keys.map((k) => `"${k}"`).join(', ')}${known ? ` in ${known}` : ''}`;
  }
  const where = formatLocation(file, locate(tree, path));
  const missing = issue.code === 'invalid_type' && issue.message.endsWith('received undefined');
  const message = missing ? `required option "${String(path[path.length - 1])}" is missing` : issue.message;
  return `${where}: ${formatPath(path) || '(top level)'}: ${message}`;
}

function unknownKeyContext(path: readonly PathSegment[]): string {
  if (path.length === 1 && path[0] === 'backend') return `backend types (known: ${Object.keys(BACKEND_SCHEMAS).join(', ')})`;
  return formatPath(path);
}

/** `template[0].wait.min`, the way users will search their config for it. */
export function formatPath(path: readonly PathSegment[]): string {
  return path.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}

function resolveWait(raw: RawWait | undefined, fallback: WaitPolicy): WaitPolicy {
  const minMs = raw?.min ?? fallback.minMs;
  const maxMs = raw?.max ?? Math.max(fallback.maxMs, minMs);
  return Object.freeze({ minMs, maxMs });
}

function resolveConfig(raw: RawConfig, file: string, tree: LocatedNode): ResolvedConfig {
  const base = dirname(file);
  const invalid = (path: PathSegment[], message: string) =>
    new SidecarError('SIDECAR_ERR_CONFIG_INVALID', `${formatLocation(file, locate(tree, path))}: ${formatPath(path)}: ${message}`);

  const wait = resolveWait(raw.wait, DEFAULT_WAIT);
  if (wait.maxMs < wait.minMs) throw invalid(['wait', 'max'], `max (${formatDuration(wait.maxMs)}) is shorter than min (${formatDuration(wait.minMs)})`);

  const backoffMs = raw.retry?.backoff ?? 250;
  // Like wait: an unset cap is at least the first delay.
  const retry = Object.freeze({ attempts: raw.retry?.attempts ?? 0, backoffMs, maxBackoffMs: raw.retry?.max_backoff ?? Math.max(60_000, backoffMs) });
  if (retry.maxBackoffMs < retry.backoffMs) throw invalid(['retry', 'max_backoff'], `max_backoff (${formatDuration(retry.maxBackoffMs)}) is shorter than backoff (${formatDuration(retry.backoffMs)})`);

  const backends: BackendConfig[] = [];
  const seenNames = new Map<string, string>();
  for (const [name, options] of Object.entries(raw.backend?.file ?? {})) {
    const other = seenNames.get(name);
    if (other) throw invalid(['backend', 'file', name], `backend name "${name}" is already used by a ${other} backend; names must be unique`);
    seenNames.set(name, 'file');
    backends.push(Object.freeze({ type: 'file', name, path: resolve(base, options.path), format: options.format, pollIntervalMs: options.poll_interval }));
  }
  for (const [name, options] of Object.entries(raw.backend?.azure_key_vault ?? {})) {
    const other = seenNames.get(name);
    if (other) throw invalid(['backend', 'azure_key_vault', name], `backend name "${name}" is already used by a ${other} backend; names must be unique`);
    seenNames.set(name, 'azure_key_vault');
    const credential = options.credential ?? 'default';
    if (credential === 'client_secret' && (!options.client_id || !options.tenant_id || !options.client_secret_file)) {
      throw invalid(['backend', 'azure_key_vault', name, 'credential'], 'credential "client_secret" needs client_id, tenant_id and client_secret_file');
    }
    if (credential !== 'client_secret' && options.client_secret_file !== undefined) throw invalid(['backend', 'azure_key_vault', name, 'client_secret_file'], 'client_secret_file is for credential "client_secret"');
    backends.push(
      Object.freeze({
        type: 'azure_key_vault',
        name,
        vaultUrl: options.vault_url.replace(/\/+$/, ''),
        credential,
        clientId: options.client_id,
        tenantId: options.tenant_id,
        clientSecretFile: options.client_secret_file === undefined ? undefined : resolve(base, options.client_secret_file),
        refreshIntervalMs: options.refresh_interval ?? 300_000,
        maxRequestsPerSecond: options.max_requests_per_second ?? 10,
        requestTimeoutMs: options.request_timeout ?? 30_000,
      }),
    );
  }
  for (const [name, options] of Object.entries(raw.backend?.ejson ?? {})) {
    const other = seenNames.get(name);
    if (other) throw invalid(['backend', 'ejson', name], `backend name "${name}" is already used by a ${other} backend; names must be unique`);
    seenNames.set(name, 'ejson');
    if (options.key_dir !== undefined && options.key_file !== undefined) throw invalid(['backend', 'ejson', name, 'key_file'], 'set key_dir or key_file, not both');
    backends.push(
      Object.freeze({
        type: 'ejson',
        name,
        path: resolve(base, options.path),
        keyDir: options.key_dir === undefined ? undefined : resolve(base, options.key_dir),
        keyFile: options.key_file === undefined ? undefined : resolve(base, options.key_file),
        pollIntervalMs: options.poll_interval,
      }),
    );
  }
  for (const type of ['aws_secrets_manager', 'aws_ssm'] as const) {
    for (const [name, options] of Object.entries(raw.backend?.[type] ?? {})) {
      const other = seenNames.get(name);
      if (other) throw invalid(['backend', type, name], `backend name "${name}" is already used by a ${other} backend; names must be unique`);
      seenNames.set(name, type);
      backends.push(Object.freeze({ type, name, region: options.region, endpoint: options.endpoint, refreshIntervalMs: options.refresh_interval ?? 300_000, maxRequestsPerSecond: options.max_requests_per_second ?? 20, requestTimeoutMs: options.request_timeout ?? 30_000 }));
    }
  }
  for (const [name, options] of Object.entries(raw.backend?.vault ?? {})) {
    const other = seenNames.get(name);
    if (other) throw invalid(['backend', 'vault', name], `backend name "${name}" is already used by a ${other} backend; names must be unique`);
    seenNames.set(name, 'vault');
    if ((options.client_cert === undefined) !== (options.client_key === undefined)) {
      throw invalid(['backend', 'vault', name, options.client_cert === undefined ? 'client_key' : 'client_cert'], 'client_cert and client_key go together: set both for mutual TLS, or neither');
    }
    const auth = resolveVaultAuth(options.auth, base, (message, key) => invalid(['backend', 'vault', name, 'auth', ...(key ? [key] : [])], message));
    backends.push(
      Object.freeze({
        type: 'vault',
        name,
        address: options.address,
        namespace: options.namespace,
        caCert: options.ca_cert === undefined ? undefined : resolve(base, options.ca_cert),
        clientCert: options.client_cert === undefined ? undefined : resolve(base, options.client_cert),
        clientKey: options.client_key === undefined ? undefined : resolve(base, options.client_key),
        tlsServerName: options.tls_server_name,
        tlsSkipVerify: options.tls_skip_verify ?? false,
        auth,
        maxConnections: options.max_connections ?? 10,
        staticRefreshMs: options.static_refresh_interval ?? 300_000,
        requestTimeoutMs: options.request_timeout ?? 30_000,
        revokeLeasesOnExit: options.revoke_leases_on_exit ?? false,
        // Well inside the 30 s Kubernetes grants a pod between SIGTERM and SIGKILL.
        revokeTimeoutMs: options.revoke_timeout ?? 10_000,
        cacheDir: options.cache_dir === undefined ? undefined : resolve(base, options.cache_dir),
        leaseRenewalThreshold: options.lease_renewal_threshold ?? 2 / 3,
        // Filled in below, once the waits and notify timeouts are known.
        rotationMarginMs: options.rotation_margin ?? -1,
        revokeReplacedLeases: options.revoke_replaced_leases ?? true,
      }),
    );
  }

  const notify = Object.entries(raw.notify ?? {}).map(([name, block]) => Object.freeze({ name, action: resolveNotifyAction(block, base, (message, key) => invalid(['notify', name, ...(key ? [key] : [])], message)) }));
  if (raw.notify?.[EXEC_TARGET]) throw invalid(['notify', EXEC_TARGET], `"${EXEC_TARGET}" is reserved for the supervised child (the exec block)`);
  const credentialEnv = credentialEnvDenyList([raw.listener?.refresh_token_env]);
  const exec = raw.exec === undefined ? undefined : resolveExec(raw.exec, credentialEnv);
  const notifyNames = [...(exec ? [EXEC_TARGET] : []), ...notify.map((n) => n.name)];
  const envTemplates = Object.entries(raw.env_template ?? {}).map(([name, t]) => {
    if (!exec) throw invalid(['env_template', name], 'env_template needs an exec block: it sets variables of the supervised child');
    if ((t.source === undefined) === (t.contents === undefined)) throw invalid(['env_template', name], 'an env_template needs exactly one of "source" or "contents"');
    return Object.freeze({ name, source: t.source === undefined ? undefined : resolve(base, t.source), contents: t.contents, errorOnMissingKey: t.error_on_missing_key ?? true });
  });

  const destinations = new Map<string, number>();
  const templates = (raw.template ?? []).map((t, index): TemplateConfig => {
    const here = (key: string) => ['template', index, key];
    if ((t.source === undefined) === (t.contents === undefined)) {
      throw invalid(['template', index], 'a template needs exactly one of "source" or "contents"');
    }
    const destination = resolve(base, t.destination);
    const clash = destinations.get(destination);
    if (clash !== undefined) throw invalid(here('destination'), `${destination} is also the destination of template[${clash}]`);
    destinations.set(destination, index);
    const templateWait = resolveWait(t.wait, wait);
    if (templateWait.maxMs < templateWait.minMs) throw invalid(['template', index, 'wait', 'max'], 'max is shorter than min');
    t.notify?.forEach((name, i) => {
      if (!notifyNames.includes(name)) throw invalid(['template', index, 'notify', i], `no notify block is named "${name}" (defined: ${notifyNames.map((n) => `"${n}"`).join(', ') || 'none'})`);
    });
    // Default: the supervised child if there is one, else every notify block.
    const targets = Object.freeze([...(t.notify ?? (exec ? [EXEC_TARGET] : notifyNames))]);
    return Object.freeze({ ...resolveTemplate(t, index, base, destination, templateWait), notify: targets });
  });

  const switchAllowanceMs = appSwitchAllowance(wait, templates, notify);
  const withMargins = backends.map((b) => (b.type === 'vault' && b.rotationMarginMs < 0 ? Object.freeze({ ...b, rotationMarginMs: switchAllowanceMs }) : b));

  return Object.freeze({
    file,
    logLevel: (raw.log_level ?? 'info') as LogLevel,
    logFormat: (raw.log_format ?? 'json') as LogFormat,
    envAllow: Object.freeze([...(raw.env_allow ?? [])]),
    credentialEnv,
    retry,
    wait,
    backends: Object.freeze(withMargins),
    notify: Object.freeze(notify),
    exec,
    envTemplates: Object.freeze(envTemplates),
    templates: Object.freeze(templates),
    pidFile: raw.pid_file === undefined ? undefined : resolve(base, raw.pid_file),
    strict: raw.strict ?? false,
    listener: raw.listener === undefined ? undefined : resolveListener(raw.listener, base, (message, key) => invalid(['listener', ...(key ? [key] : [])], message)),
    audit: raw.audit === undefined ? undefined : resolveAudit(raw.audit, base, (message) => invalid(['audit'], message)),
  });
}

function resolveListener(raw: NonNullable<RawConfig['listener']>, base: string, invalid: (message: string, key?: string) => SidecarError): ListenerConfig {
  const colon = raw.address.lastIndexOf(':');
  const port = Number(raw.address.slice(colon + 1));
  if (port > 65535) throw invalid(`port ${port} is out of range`, 'address');
  if (raw.refresh_token_file !== undefined && raw.refresh_token_env !== undefined) throw invalid('set refresh_token_file or refresh_token_env, not both', 'refresh_token_env');
  return Object.freeze({
    host: raw.address.slice(0, colon).replace(/^\[|\]$/g, ''),
    port,
    readinessGraceMs: raw.readiness_grace ?? 60_000,
    refreshTokenFile: raw.refresh_token_file === undefined ? undefined : resolve(base, raw.refresh_token_file),
    refreshTokenEnv: raw.refresh_token_env,
  });
}

function resolveAudit(raw: NonNullable<RawConfig['audit']>, base: string, invalid: (message: string) => SidecarError): AuditConfig {
  if ((raw.path === undefined) === (raw.stdout !== true)) throw invalid('an audit block needs exactly one of path = "…" or stdout = true');
  return raw.path === undefined ? Object.freeze({ kind: 'stdout' }) : Object.freeze({ kind: 'file', path: resolve(base, raw.path) });
}

function resolveVaultAuth(raw: RawVaultAuth | undefined, base: string, invalid: (message: string, key?: string) => SidecarError): VaultAuthConfig {
  const methods = Object.entries(raw ?? {}).filter(([, v]) => v !== undefined);
  if (methods.length > 1) throw invalid(`one auth method per backend (found ${methods.map(([m]) => m).join(', ')})`);
  const file = (path: string | undefined) => (path === undefined ? undefined : resolve(base, path));
  if (raw?.approle) {
    const a = raw.approle;
    if ((a.role_id === undefined) === (a.role_id_file === undefined)) throw invalid('approle needs exactly one of "role_id" or "role_id_file"', 'approle');
    return Object.freeze({ method: 'approle', mount: a.mount ?? 'approle', roleId: a.role_id, roleIdFile: file(a.role_id_file), secretIdFile: file(a.secret_id_file) });
  }
  if (raw?.jwt) {
    if (raw.jwt.jwt_file === undefined) throw invalid('jwt needs "jwt_file"', 'jwt');
    return Object.freeze({ method: 'jwt', mount: raw.jwt.mount ?? 'jwt', role: raw.jwt.role, jwtFile: resolve(base, raw.jwt.jwt_file) });
  }
  if (raw?.kubernetes) {
    const k = raw.kubernetes;
    return Object.freeze({ method: 'kubernetes', mount: k.mount ?? 'kubernetes', role: k.role, jwtFile: file(k.jwt_file) ?? KUBERNETES_SERVICE_ACCOUNT_TOKEN });
  }
  const token = raw?.token;
  if (token?.token !== undefined && token.token_file !== undefined) throw invalid('give "token" or "token_file", not both', 'token');
  return Object.freeze({ method: 'token', token: token?.token, tokenFile: file(token?.token_file) });
}

function resolveExec(raw: RawExec, credentialEnv: readonly string[]): ExecConfig {
  return Object.freeze({
    command: Object.freeze([...raw.command]),
    reloadSignal: raw.reload_signal,
    killSignal: raw.kill_signal ?? 'SIGTERM',
    killTimeoutMs: raw.kill_timeout ?? DEFAULT_KILL_TIMEOUT_MS,
    splayMs: raw.splay ?? 0,
    restart: raw.restart ?? 'never',
    env: Object.freeze({
      pristine: raw.env?.pristine ?? false,
      allow: Object.freeze([...(raw.env?.allow ?? [])]),
      deny: Object.freeze([...new Set([...credentialEnv, ...(raw.env?.deny ?? [])])]),
    }),
  });
}

function resolveNotifyAction(block: RawNotify, base: string, invalid: (message: string, key?: string) => SidecarError): NotifyAction {
  const kinds = (['pid_file', 'process', 'http', 'command'] as const).filter((k) => block[k] !== undefined);
  if (kinds.length !== 1) throw invalid(`a notify block needs exactly one of "pid_file", "process", "http" or "command"${kinds.length ? ` (found ${kinds.join(', ')})` : ''}`);
  const signal = block.signal ?? DEFAULT_NOTIFY_SIGNAL;
  const signalled = block.pid_file !== undefined || block.process !== undefined;
  if (!signalled && block.signal !== undefined) throw invalid('"signal" applies only with "pid_file" or "process"', 'signal');
  if (signalled && block.timeout !== undefined) throw invalid('"timeout" applies only with "command" (http has its own)', 'timeout');
  if (block.pid_file !== undefined) return { kind: 'pid-file', pidFile: resolve(base, block.pid_file), signal };
  if (block.process !== undefined) {
    try {
      new RegExp(block.process);
    } catch (error) {
      throw invalid(`"process" is not a valid regular expression: ${(error as Error).message}`, 'process');
    }
    return { kind: 'process', pattern: block.process, signal };
  }
  if (block.http !== undefined) {
    if (block.timeout !== undefined) throw invalid('put "timeout" inside the http block', 'timeout');
    return { kind: 'http', url: block.http.url, method: block.http.method ?? 'POST', headers: Object.freeze({ ...(block.http.headers ?? {}) }), timeoutMs: block.http.timeout ?? DEFAULT_HTTP_TIMEOUT_MS };
  }
  return { kind: 'command', command: Object.freeze([...(block.command ?? [])]), timeoutMs: block.timeout ?? DEFAULT_COMMAND_TIMEOUT_MS };
}

function resolveTemplate(t: RawTemplate, index: number, base: string, destination: string, wait: WaitPolicy): Omit<TemplateConfig, 'notify'> {
  return {
    index,
    name: t.source ?? `template[${index}] (contents)`,
    source: t.source === undefined ? undefined : resolve(base, t.source),
    contents: t.contents,
    destination,
    perms: t.perms ?? DEFAULT_PERMS,
    user: t.user,
    group: t.group,
    createDestDirs: t.create_dest_dirs ?? true,
    errorOnMissingKey: t.error_on_missing_key ?? true,
    maxBytes: t.max_size ?? DEFAULT_MAX_RENDER_BYTES,
    allowNonTmpfs: t.allow_non_tmpfs ?? false,
    wait,
  };
}

/** The least time allowed for an app to switch: one that re-reads its files on its own needs a moment too. */
const MIN_SWITCH_ALLOWANCE_MS = 10_000;

/**
 * How long the app may take to switch to a new secret: the longest quiescence wait before the file is written,
 * plus the longest reload hook timeout of the targets told about it (a signal takes no time of its own).
 */
function appSwitchAllowance(wait: WaitPolicy, templates: readonly TemplateConfig[], notify: readonly NotifyConfig[]): number {
  const timeout = (name: string) => {
    const action = notify.find((n) => n.name === name)?.action;
    return action && 'timeoutMs' in action ? action.timeoutMs : 0;
  };
  return Math.max(MIN_SWITCH_ALLOWANCE_MS, wait.maxMs, ...templates.map((t) => t.wait.maxMs + Math.max(0, ...t.notify.map(timeout))));
}
