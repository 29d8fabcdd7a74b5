import { readBounded } from '../bounded-read.js';
import { dirname, extname, resolve } from 'node:path';
import type { core } from 'zod';
import { SidecarError } from '../errors.js';
import type { LogFormat, LogLevel } from '../log/logger.js';
import { BACKEND_TYPES, completeBackends, resolveBackends } from './backend-blocks.js';
import { credentialEnvDenyList } from './credential-env.js';
import { formatDuration } from './duration.js';
import { locate, toPlain, type LocatedNode, type PathSegment } from './located.js';
import { parseHclConfig } from './parse-hcl.js';
import { parseJsonConfig } from './parse-json.js';
import { configSchema, type RawConfig, type RawExec, type RawNotify, type RawTemplate, type RawWait } from './schema.js';
import { checkConfigSource, checkValueCharacters, decodeConfig } from './source-limits.js';
import { formatLocation } from './syntax-error.js';
import {
  DEFAULT_MAX_RENDER_BYTES,
  EXEC_TARGET,
  type ExecConfig,
  type NotifyAction,
  type NotifyConfig,
  type ListenerConfig,
  type AuditConfig,
  type ResolvedConfig,
  type TemplateConfig,
  type WaitPolicy,
} from './types.js';

export const DEFAULT_WAIT: WaitPolicy = Object.freeze({ minMs: 0, maxMs: 0 });
export const DEFAULT_PERMS = 0o600;
export const DEFAULT_NOTIFY_SIGNAL = 'SIGHUP';
export const DEFAULT_HTTP_TIMEOUT_MS = 5_000;
export const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;
export const DEFAULT_KILL_TIMEOUT_MS = 10_000;

/** Reads, parses, validates and resolves a config file. Every error names file:line:col and the option's path. */
export async function loadConfig(path: string): Promise<ResolvedConfig> {
  const { text, file } = await readConfigText(path);
  return parseConfig(text, file);
}

/** A config file's text and absolute path, bounded and decoded (invalid UTF-8 refused at its position). */
export async function readConfigText(path: string): Promise<{ readonly text: string; readonly file: string }> {
  const file = resolve(path);
  let source: Buffer;
  try {
    source = await readBounded(file);
  } catch (cause) {
    const reason = (cause as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (cause as Error).message;
    throw new SidecarError('SIDECAR_ERR_CONFIG_READ', `cannot read config ${file}: ${reason}`, { cause });
  }
  return { text: decodeConfig(source, file), file };
}

/** Like loadConfig, for text already in memory; `file` decides the format (.json is JSON, anything else HCL). */
export async function parseConfig(source: string, file: string): Promise<ResolvedConfig> {
  const tree = await parseConfigTree(source, file);
  const parsed = configSchema.safeParse(toPlain(tree));
  if (!parsed.success) throw schemaError(parsed.error.issues, tree, file);
  return resolveConfig(parsed.data, file, tree);
}

/** Config text (HCL, or JSON when `file` ends in .json) as a located tree, size and characters checked: for other config files too. */
// Async although parsing is not: callers (the loader, the webhook, tests) take a refusal as a rejected promise.
// eslint-disable-next-line @typescript-eslint/require-await
export async function parseConfigTree(source: string, file: string): Promise<LocatedNode> {
  const text = checkConfigSource(source, file);
  const tree = extname(file).toLowerCase() === '.json' ? parseJsonConfig(text, file) : parseHclConfig(text, file);
  checkValueCharacters(tree, file);
  return tree;
}

/** Zod's issues as one coded error, each line located at file:line:col. */
export function schemaError(
  issues: readonly core.$ZodIssue[],
  tree: LocatedNode,
  file: string,
  hint = 'sidecar.example.hcl in the project documents every option',
): SidecarError {
  const lines = issues.slice(0, 10).map((issue) => describeIssue(issue, tree, file));
  const more = issues.length > 10 ? `\n(and ${issues.length - 10} more)` : '';
  return new SidecarError('SIDECAR_ERR_CONFIG_INVALID', lines.join('\n') + more, { hint });
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
  if (path.length === 1 && path[0] === 'backend') return `backend types (known: ${BACKEND_TYPES.join(', ')})`;
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
  if (retry.maxBackoffMs < retry.backoffMs)
    throw invalid(['retry', 'max_backoff'], `max_backoff (${formatDuration(retry.maxBackoffMs)}) is shorter than backoff (${formatDuration(retry.backoffMs)})`);

  const backends = resolveBackends(raw.backend, base, invalid, (path) => locate(tree, path));

  const notify = Object.entries(raw.notify ?? {}).map(([name, block]) =>
    Object.freeze({ name, action: resolveNotifyAction(block, base, (message, key) => invalid(['notify', name, ...(key ? [key] : [])], message)) }),
  );
  if (raw.notify?.[EXEC_TARGET]) throw invalid(['notify', EXEC_TARGET], `"${EXEC_TARGET}" is reserved for the supervised child (the exec block)`);
  const credentialEnv = credentialEnvDenyList([raw.listener?.refresh_token_env]);
  const exec = raw.exec === undefined ? undefined : resolveExec(raw.exec, credentialEnv);
  const notifyNames = [...(exec ? [EXEC_TARGET] : []), ...notify.map((n) => n.name)];
  const envTemplates = Object.entries(raw.env_template ?? {}).map(([name, t]) => {
    if (!exec) throw invalid(['env_template', name], 'env_template needs an exec block: it sets variables of the supervised child');
    if ((t.source === undefined) === (t.contents === undefined))
      throw invalid(['env_template', name], 'an env_template needs exactly one of "source" or "contents"');
    return Object.freeze({
      name,
      source: t.source === undefined ? undefined : resolve(base, t.source),
      contents: t.contents,
      errorOnMissingKey: t.error_on_missing_key ?? true,
    });
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
      if (!notifyNames.includes(name))
        throw invalid(
          ['template', index, 'notify', i],
          `no notify block is named "${name}" (defined: ${notifyNames.map((n) => `"${n}"`).join(', ') || 'none'})`,
        );
    });
    // Default: the supervised child if there is one, else every notify block.
    const targets = Object.freeze([...(t.notify ?? (exec ? [EXEC_TARGET] : notifyNames))]);
    return Object.freeze({ ...resolveTemplate(t, index, base, destination, templateWait), notify: targets });
  });

  return Object.freeze({
    file,
    logLevel: (raw.log_level ?? 'info') as LogLevel,
    logFormat: (raw.log_format ?? 'json') as LogFormat,
    envAllow: Object.freeze([...(raw.env_allow ?? [])]),
    credentialEnv,
    retry,
    wait,
    backends: completeBackends(
      backends,
      { appSwitchAllowanceMs: appSwitchAllowance(wait, templates, notify), destinationDirectories: [...new Set(templates.map((t) => dirname(t.destination)))] },
      invalid,
    ),
    notify: Object.freeze(notify),
    exec,
    envTemplates: Object.freeze(envTemplates),
    templates: Object.freeze(templates),
    pidFile: raw.pid_file === undefined ? undefined : resolve(base, raw.pid_file),
    strict: raw.strict ?? false,
    listener:
      raw.listener === undefined ? undefined : resolveListener(raw.listener, base, (message, key) => invalid(['listener', ...(key ? [key] : [])], message)),
    audit: raw.audit === undefined ? undefined : resolveAudit(raw.audit, base, (message) => invalid(['audit'], message)),
  });
}

function resolveListener(raw: NonNullable<RawConfig['listener']>, base: string, invalid: (message: string, key?: string) => SidecarError): ListenerConfig {
  const colon = raw.address.lastIndexOf(':');
  const port = Number(raw.address.slice(colon + 1));
  if (port > 65535) throw invalid(`port ${port} is out of range`, 'address');
  if (raw.refresh_token_file !== undefined && raw.refresh_token_env !== undefined)
    throw invalid('set refresh_token_file or refresh_token_env, not both', 'refresh_token_env');
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
  const kinds = (['pid_file', 'process', 'http', 'rollout', 'command'] as const).filter((k) => block[k] !== undefined);
  if (kinds.length !== 1)
    throw invalid(
      `a notify block needs exactly one of "pid_file", "process", "http", "rollout" or "command"${kinds.length ? ` (found ${kinds.join(', ')})` : ''}`,
    );
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
  if (block.rollout !== undefined) {
    if (block.timeout !== undefined) throw invalid('put "timeout" inside the rollout block', 'timeout');
    const { kind, name, namespace, kubeconfig, timeout } = block.rollout;
    return {
      kind: 'rollout',
      workload: kind,
      name,
      namespace,
      kubeconfig: kubeconfig === undefined ? undefined : resolve(base, kubeconfig),
      timeoutMs: timeout ?? DEFAULT_HTTP_TIMEOUT_MS,
    };
  }
  if (block.http !== undefined) {
    if (block.timeout !== undefined) throw invalid('put "timeout" inside the http block', 'timeout');
    return {
      kind: 'http',
      url: block.http.url,
      method: block.http.method ?? 'POST',
      headers: Object.freeze({ ...(block.http.headers ?? {}) }),
      timeoutMs: block.http.timeout ?? DEFAULT_HTTP_TIMEOUT_MS,
    };
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
