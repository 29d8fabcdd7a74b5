import { basename } from 'node:path';
import { DURATION_BOUNDS } from '../config/duration.js';
import { commonOptions, mountName } from './consul-template-config.js';
import type { PeerBlock } from './peer-block.js';
import type { PeerAuth, PeerConfig, PeerEnvTemplate, PeerExec, PeerRetry, PeerTemplate, PeerVault } from './peer-config.js';
import { readPeerHcl, readTemplateSource } from './peer-hcl.js';
import { CA_PATH_ADVICE, durationOption, execCommand, peerPath, signalOption, thresholdOption } from './peer-options.js';
import { readTemplateBlock } from './peer-template.js';

const TOP_INSTEAD: Readonly<Record<string, string>> = {
  cache: 'the sidecar is not a caching proxy: applications read the rendered files; drop it',
  listener: 'the sidecar serves no Vault API to applications (its own listener block is for health and metrics); drop it',
  api_proxy: 'the sidecar serves no Vault API to applications; drop it',
  telemetry: 'set listener { address = "127.0.0.1:9102" } in sidecar.hcl for Prometheus metrics',
  exit_after_auth: 'run `secrets-sidecar once -c sidecar.hcl` to render once and exit',
  log_file: 'the sidecar logs to stderr: redirect or collect it from there',
  log_format: 'set log_format = "json" or "pretty" in sidecar.hcl',
  disable_idle_connections: 'connection tuning: set max_connections in the vault backend block if needed',
  disable_keep_alives: 'connection tuning: set max_connections in the vault backend block if needed',
};

const METHOD_INSTEAD =
  'the sidecar logs in with token files, approle, jwt and kubernetes only: use one of those, or write a token to a file and use auth "token" { token_file = "…" }';

/** Reads a Vault Agent config (HCL) into what the converter writes; `base` resolves relative paths. */
export async function readVaultAgentConfig(file: string, base: string): Promise<PeerConfig> {
  const { root, report } = await readPeerHcl(file);
  const common = commonOptions(root, base);
  const vaultBlock = root.block('vault');
  let vault: PeerVault = vaultBlock ? readVault(vaultBlock, base) : {};
  const retry = vaultBlock ? readRetry(vaultBlock) : undefined;
  vaultBlock?.reportRest(() => "not converted: the sidecar's vault backend block has no such option");
  const autoAuth = root.block('auto_auth');
  if (autoAuth) vault = { ...vault, auth: readAutoAuth(autoAuth, base) };
  const templateConfig = root.block('template_config');
  if (templateConfig) vault = { ...vault, ...readTemplateConfig(templateConfig) };

  const execBlock = root.block('exec');
  const exec = execBlock ? readExec(execBlock) : undefined;
  const templates: PeerTemplate[] = [];
  // The agent's exec is restarted by env_template changes only, not by its file templates.
  for (const block of root.blocks('template')) {
    templates.push(await readTemplateBlock(block, { base, notifiesExec: false }));
  }
  const envTemplates: PeerEnvTemplate[] = [];
  for (const { label, block } of root.labelled('env_template')) {
    if (!exec) block.noteBlock("an env_template sets the supervised child's environment: it needs an exec block; not converted", `env_template "${label}"`);
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(label)) envTemplates.push(await readEnvTemplate(label, block, base));
    else block.noteBlock('not converted: an env_template name must be a variable name (letters, digits and "_")', `env_template "${label}"`);
  }
  root.reportRest((key) => TOP_INSTEAD[key] ?? 'not an option of Vault Agent; not converted');
  return { kind: 'vault-agent', ...common, vault, retry, exec, templates, envTemplates, report };
}

function readVault(block: PeerBlock, base: string): PeerVault {
  const path = (key: string) => {
    const value = block.string(key);
    return value === undefined ? undefined : peerPath(base, value);
  };
  const result: PeerVault = {
    address: block.string('address'),
    namespace: block.string('namespace'),
    caCert: path('ca_cert'),
    clientCert: path('client_cert'),
    clientKey: path('client_key'),
    tlsServerName: block.string('tls_server_name'),
    tlsSkipVerify: block.bool('tls_skip_verify'),
  };
  block.drop('ca_path', CA_PATH_ADVICE);
  return result;
}

function readRetry(block: PeerBlock): PeerRetry | undefined {
  const retry = block.block('retry');
  if (!retry) return undefined;
  const text = retry.numberText('num_retries');
  retry.reportRest(() => 'not a retry option; not converted');
  if (text === undefined) return undefined;
  if (/^\d+$/.test(text) && Number(text) > 0) return { attempts: Number(text) };
  retry.note('num_retries', 'not converted: the sidecar always retries failed requests (retry.attempts = 0 retries for as long as it runs)');
  return undefined;
}

function readAutoAuth(block: PeerBlock, base: string): PeerAuth | undefined {
  block.drop('sink', 'the sidecar never writes its token anywhere: render what the application needs with a template instead');
  // `method "approle" { … }` or `method { type = "approle" … }`.
  const entry = block.node.entries.get('method');
  const methods: Array<{ type: string | undefined; block: PeerBlock }> =
    entry?.node.kind === 'object'
      ? block.labelled('method').map(({ label, block: b }) => ({ type: label, block: b }))
      : block.blocks('method').map((b) => ({ type: b.string('type'), block: b }));
  block.reportRest(() => 'not an auto_auth option; not converted');
  const [first, ...others] = methods;
  for (const other of others) other.block.note('type', 'the sidecar logs in one way per backend: only the first method is converted', `${other.block.path}`);
  if (!first) return undefined;
  return readMethod(first.type, first.block, base);
}

function readMethod(type: string | undefined, method: PeerBlock, base: string): PeerAuth | undefined {
  const mount = method.string('mount_path');
  method.drop('namespace', 'set namespace in the vault backend block (one namespace per backend)');
  method.drop('wrap_ttl', 'response wrapping is not supported; drop it');
  for (const key of ['min_backoff', 'max_backoff', 'exit_on_err']) method.drop(key, "the sidecar's retry block sets its backoff; drop it");
  const config = method.block('config');
  const path = (key: string): string | undefined => {
    const value = config?.string(key);
    return value === undefined ? undefined : peerPath(base, value);
  };
  let auth: PeerAuth | undefined;
  switch (type) {
    case 'token_file': {
      const file = path('token_file_path');
      if (file) auth = { method: 'token', tokenFile: file };
      break;
    }
    case 'approle': {
      const roleIdFile = path('role_id_file_path');
      const secretIdFile = path('secret_id_file_path');
      // The agent deletes the secret id file after reading it unless told not to; the sidecar never deletes it.
      const remove = config?.bool('remove_secret_id_file_after_reading');
      if (secretIdFile && remove !== false)
        (config ?? method).note(
          config?.has('remove_secret_id_file_after_reading') ? 'remove_secret_id_file_after_reading' : 'secret_id_file_path',
          'the agent deletes the secret id file after reading it; the sidecar reads it at each login and leaves it: mount it read-only, or use a role without bind_secret_id',
        );
      if (roleIdFile) auth = { method: 'approle', mount: mountName(mount, 'approle'), roleIdFile, secretIdFile };
      break;
    }
    case 'kubernetes': {
      const role = config?.string('role');
      if (role) auth = { method: 'kubernetes', mount: mountName(mount, 'kubernetes'), role, jwtFile: path('token_path') };
      break;
    }
    case 'jwt': {
      const role = config?.string('role');
      const jwtFile = path('path');
      if (config?.has('remove_jwt_after_reading') && config.bool('remove_jwt_after_reading') !== false)
        config.note('remove_jwt_after_reading', 'the sidecar reads the JWT file at each login and never deletes it');
      if (role && jwtFile) auth = { method: 'jwt', mount: mountName(mount, 'jwt'), role, jwtFile };
      break;
    }
    default:
      method.noteBlock(METHOD_INSTEAD, `auto_auth method "${type ?? ''}"`);
      config?.reportRest(() => 'not converted with its method');
      method.reportRest(() => 'not converted with its method');
      return undefined;
  }
  if (!auth) method.note('config', "not converted: this method's required options (a role, or the file paths) are missing", `auto_auth method "${type}"`);
  config?.reportRest(() => `not an option of the ${type} method the sidecar converts; not converted`);
  method.reportRest(() => 'not a method option; not converted');
  return auth;
}

function readTemplateConfig(block: PeerBlock): Partial<PeerVault> {
  const staticRefreshInterval = durationOption(block, 'static_secret_render_interval', DURATION_BOUNDS.refreshInterval);
  const connections = block.numberText('max_connections_per_host');
  let maxConnections: number | undefined;
  if (connections !== undefined) {
    if (/^\d+$/.test(connections) && Number(connections) >= 1 && Number(connections) <= 1000) maxConnections = Number(connections);
    else block.note('max_connections_per_host', 'not converted: the sidecar takes 1 to 1000 (max_connections)');
  }
  const leaseRenewalThreshold = thresholdOption(block, 'lease_renewal_threshold');
  block.drop('exit_on_retry_failure', '`once` exits when retries run out or --timeout passes; `run` keeps the files it has and retries: drop it');
  block.reportRest(() => 'not a template_config option; not converted');
  return { staticRefreshInterval, maxConnections, leaseRenewalThreshold };
}

function readExec(block: PeerBlock): PeerExec | undefined {
  const argv = execCommand(block);
  const killSignal = signalOption(block, 'restart_stop_signal');
  const restart = block.string('restart_on_secret_changes');
  if (restart !== undefined && restart !== 'always')
    block.note('restart_on_secret_changes', 'the sidecar restarts the child whenever an env_template changes; not converted');
  block.reportRest(() => 'not an exec option of Vault Agent; not converted');
  if (!argv) return undefined;
  return { command: argv, killSignal };
}

async function readEnvTemplate(name: string, block: PeerBlock, base: string): Promise<PeerEnvTemplate> {
  const source = block.string('source');
  const contents = block.string('contents');
  const errorOnMissingKey = block.bool('error_on_missing_key') ?? false;
  block.reportRest(() => 'not an env_template option; not converted');
  if ((source === undefined) === (contents === undefined))
    throw block.invalid({ keyPos: block.pos, node: block.node }, 'contents', 'give exactly one of "source" or "contents"');
  if (source !== undefined) {
    const path = peerPath(base, source);
    return {
      name,
      errorOnMissingKey,
      go: { file: path, ...(await readTemplateSource(path, block.peer, block.keyPos('source'))), offset: undefined, nameHint: basename(path) },
    };
  }
  return {
    name,
    errorOnMissingKey,
    go: { file: block.peer.file, text: contents ?? '', mode: block.peer.mode, offset: block.valueOffset('contents'), nameHint: name },
  };
}
