import { DURATION_BOUNDS } from '../config/duration.js';
import type { PeerBlock } from './peer-block.js';
import type { PeerAuth, PeerConfig, PeerExec, PeerRetry, PeerTemplate, PeerVault } from './peer-config.js';
import { readPeerHcl } from './peer-hcl.js';
import { CA_PATH_ADVICE, execCommand, durationOption, peerPath, signalOption, thresholdOption, waitOption } from './peer-options.js';
import { readTemplateBlock } from './peer-template.js';

/** consul-template's top-level options the sidecar has no counterpart for, and what to do instead. */
const TOP_INSTEAD: Readonly<Record<string, string>> = {
  consul: 'the sidecar does not read Consul; keep consul-template for Consul KV and services, or move those values to a backend the sidecar reads',
  nomad: 'the sidecar does not read Nomad variables or services; move those values to a backend the sidecar reads',
  deduplicate: 'deduplication uses Consul; each sidecar fetches its own secrets: drop it',
  max_stale: 'a Consul option; drop it',
  block_query_wait: 'a Consul option; drop it',
  syslog: 'the sidecar logs JSON lines to stderr: collect them from there (log_format = "pretty" for people)',
  log_file: 'the sidecar logs to stderr: redirect or collect it from there',
  kill_signal: 'the sidecar stops on SIGTERM or SIGINT; drop it',
  reload_signal: "SIGHUP reloads the sidecar's config; drop it",
  template_error_fatal: 'a template that fails ends `once` with exit 4; `run` logs it and retries: drop it',
  err_on_failed_lookup: 'set error_on_missing_key = true on the templates in sidecar.hcl instead',
  once: 'run `secrets-sidecar once -c sidecar.hcl` instead of `run`',
};

const VAULT_INSTEAD: Readonly<Record<string, string>> = {
  renew_token: 'the sidecar renews a token it logged in with, and re-reads a token_file when it changes; drop it',
  unwrap_token: 'response-wrapped tokens are not supported: unwrap it before the sidecar starts and give the result in a token file',
  default_lease_duration: 'the sidecar re-reads KV secrets every static_refresh_interval (default "5m") in the vault backend block',
  transport: 'connection tuning: set max_connections and request_timeout in the vault backend block if needed',
  client_user_agent: 'the sidecar sends its own User-Agent; drop it',
  enabled: 'drop it: the vault backend is used when a template names it',
  k8s_service_account_token: 'a service-account token is not copied into the config: the sidecar reads it from a file (auth "kubernetes" { jwt_file = "…" })',
};

/** Reads a consul-template config (HCL) into what the converter writes; `base` resolves relative paths. */
export async function readConsulTemplateConfig(file: string, base: string): Promise<PeerConfig> {
  const { root, report } = await readPeerHcl(file);
  const common = commonOptions(root, base);
  const vaultBlock = root.block('vault');
  const vault = vaultBlock ? readVault(vaultBlock, base) : undefined;
  const retry = vaultBlock ? readRetry(vaultBlock) : undefined;
  vaultBlock?.reportRest((key) => VAULT_INSTEAD[key] ?? 'not a vault option of consul-template; not converted');
  const wait = waitOption(root);
  const execBlock = root.block('exec');
  const exec = execBlock ? readExec(execBlock) : undefined;
  const delimiters = root.block('default_delimiters');
  const defaults = { base, notifiesExec: exec !== undefined, leftDelimiter: delimiters?.string('left'), rightDelimiter: delimiters?.string('right') };
  delimiters?.reportRest(() => 'not an option of default_delimiters; not converted');
  const templates: PeerTemplate[] = [];
  for (const block of root.blocks('template')) {
    templates.push(await readTemplateBlock(block, defaults));
  }
  root.reportRest((key) => TOP_INSTEAD[key] ?? 'not an option of consul-template; not converted');
  return { kind: 'consul-template', ...common, vault, retry, wait, exec, templates, envTemplates: [], report };
}

/** What both peers' configs say at the top the same way: the log level and the pid file. */
export function commonOptions(root: PeerBlock, base: string): Pick<PeerConfig, 'file' | 'mode' | 'logLevel' | 'pidFile'> {
  const pidFile = root.string('pid_file');
  return { file: root.peer.file, mode: root.peer.mode, logLevel: logLevelOption(root), pidFile: pidFile === undefined ? undefined : peerPath(base, pidFile) };
}

/** consul-template's levels are trace, debug, info, warn and err (Vault Agent's too, with "error"). */
function logLevelOption(block: PeerBlock): string | undefined {
  const level = block.string('log_level')?.trim().toLowerCase();
  if (level === undefined) return undefined;
  const ours: Record<string, string> = { trace: 'trace', debug: 'debug', info: 'info', warn: 'warn', err: 'error', error: 'error' };
  if (ours[level] === undefined) block.note('log_level', "not converted: the sidecar's levels are trace, debug, info, warn, error, fatal and silent");
  return ours[level];
}

function readVault(block: PeerBlock, base: string): PeerVault {
  const address = block.string('address');
  const namespace = block.string('namespace');
  let auth: PeerAuth | undefined;
  // A literal token is a secret: it is never written into the converted config or the report.
  block.drop(
    'token',
    'a token in the config is not copied: write it to a file on tmpfs and set auth "token" { token_file = "…" } in the vault backend block, or pass it in VAULT_TOKEN (the converted config reads VAULT_TOKEN)',
  );
  const agentTokenFile = block.string('vault_agent_token_file');
  if (agentTokenFile !== undefined) auth = { method: 'token', tokenFile: peerPath(base, agentTokenFile) };
  const k8sRole = block.string('k8s_auth_role_name');
  const k8sTokenPath = block.string('k8s_service_account_token_path');
  const k8sMount = block.string('k8s_service_mount_path');
  if (k8sRole !== undefined) {
    if (auth) block.note('k8s_auth_role_name', 'the sidecar logs in one way per backend: the token file is converted, Kubernetes auth is not');
    else
      auth = {
        method: 'kubernetes',
        role: k8sRole,
        mount: mountName(k8sMount, 'kubernetes'),
        jwtFile: k8sTokenPath === undefined ? undefined : peerPath(base, k8sTokenPath),
      };
  }
  const ssl = block.block('ssl');
  let tls: Pick<PeerVault, 'caCert' | 'clientCert' | 'clientKey' | 'tlsServerName' | 'tlsSkipVerify'> = {};
  if (ssl) {
    const path = (key: string) => {
      const value = ssl.string(key);
      return value === undefined ? undefined : peerPath(base, value);
    };
    const verify = ssl.bool('verify');
    ssl.bool('enabled');
    tls = {
      caCert: path('ca_cert'),
      clientCert: path('cert'),
      clientKey: path('key'),
      tlsServerName: ssl.string('server_name'),
      tlsSkipVerify: verify === false ? true : undefined,
    };
    ssl.drop('ca_path', CA_PATH_ADVICE);
    ssl.reportRest(() => 'not an ssl option of consul-template; not converted');
  }
  const leaseRenewalThreshold = thresholdOption(block, 'lease_renewal_threshold');
  return { address, namespace, auth, leaseRenewalThreshold, ...tls };
}

/** `auth/approle` and `approle` both name the mount `approle`. */
export function mountName(path: string | undefined, fallback: string): string {
  const trimmed = path
    ?.trim()
    .replace(/^\/+|\/+$/g, '')
    .replace(/^auth\//, '');
  return trimmed === undefined || trimmed === '' ? fallback : trimmed;
}

function readRetry(block: PeerBlock): PeerRetry | undefined {
  const retry = block.block('retry');
  if (!retry) return undefined;
  const enabled = retry.bool('enabled');
  const attemptsText = retry.numberText('attempts');
  let attempts: number | undefined;
  if (attemptsText !== undefined) {
    if (/^\d+$/.test(attemptsText)) attempts = Number(attemptsText);
    else retry.note('attempts', 'not converted: expected a whole number');
  }
  if (enabled === false)
    retry.note('enabled', 'the sidecar always retries (attempts = 0 retries for as long as it runs; `once` stops at --timeout): set retry.attempts');
  const backoff = durationOption(retry, 'backoff', DURATION_BOUNDS.backoff);
  const maxBackoff = durationOption(retry, 'max_backoff', DURATION_BOUNDS.maxBackoff);
  retry.reportRest(() => 'not a retry option; not converted');
  return { attempts, backoff, maxBackoff };
}

function readExec(block: PeerBlock): PeerExec | undefined {
  const argv = execCommand(block);
  const reloadSignal = signalOption(block, 'reload_signal');
  const killSignal = signalOption(block, 'kill_signal');
  const killTimeout = durationOption(block, 'kill_timeout', DURATION_BOUNDS.killTimeout);
  const splay = durationOption(block, 'splay', DURATION_BOUNDS.splay);
  block.bool('enabled');
  block.drop('timeout', 'the sidecar does not stop a child for running long; drop it');
  const envBlock = block.block('env');
  let env: PeerExec['env'];
  if (envBlock) {
    const list = (key: string) => {
      const v = envBlock.stringOrList(key)?.value;
      if (v === undefined) return undefined;
      const names = [v].flat();
      // The sidecar takes names and prefixes ending in "*"; consul-template's other globs are reported.
      const kept = names.filter((n) => /^[A-Za-z_][A-Za-z0-9_]*\*?$/.test(n));
      if (kept.length < names.length)
        envBlock.note(key, 'patterns other than a name or a prefix ending in "*" are not converted: list the names in sidecar.hcl');
      return kept;
    };
    const pristine = envBlock.bool('pristine');
    const allow = list('allowlist') ?? list('whitelist');
    const deny = list('denylist') ?? list('blacklist');
    envBlock.drop('custom', "fixed variables for the child are not converted: put them in the child's command or image, or use env_template blocks");
    envBlock.reportRest(() => 'not an env option of consul-template; not converted');
    env = { pristine, allow, deny };
  }
  block.reportRest(() => 'not an exec option of consul-template; not converted');
  if (!argv) return undefined;
  // consul-template's defaults differ from ours (SIGTERM, 10s): written out, so the child is stopped as before.
  return { command: argv, reloadSignal, killSignal: killSignal ?? 'SIGINT', killTimeout: killTimeout ?? '30s', splay, env };
}
