import type { PeerAuth, PeerConfig, PeerTemplate, PeerWait } from './peer-config.js';
import { hclAttributes, hclString } from './hcl-text.js';

/** The one vault backend a converted config has; translated templates name it in their references. */
export const VAULT_BACKEND = 'vault';

/** What the writer needs beyond the peer config: where each translated template went, and what they read. */
export interface WrittenTemplates {
  /** Paths of the translated file templates, relative to sidecar.hcl, in the order of `config.templates`. */
  readonly templateFiles: readonly string[];
  /** The same for `config.envTemplates`. */
  readonly envTemplateFiles: readonly string[];
  /** Environment variables the translated templates read (they become env_allow). */
  readonly envNames: readonly string[];
}

/** sidecar.hcl for a peer config: every block README documents that the peer's options map to. */
export function writeSidecarConfig(config: PeerConfig, written: WrittenTemplates): string {
  const parts: string[] = [
    `# Converted from the ${config.kind} config ${config.file.replace(/[\r\n]/g, ' ')} by \`secrets-sidecar convert\`.\n` +
      '# conversion-report.txt lists what was not translated. Check it with: secrets-sidecar validate -c sidecar.hcl\n',
  ];
  const top = hclAttributes(
    [
      ['log_level', config.logLevel],
      ['pid_file', config.pidFile],
      ['env_allow', written.envNames.length > 0 ? [...written.envNames].sort() : undefined],
    ],
    '',
  );
  if (top) parts.push(top);
  parts.push(vaultBackend(config));
  if (config.retry && Object.values(config.retry).some((v) => v !== undefined)) {
    parts.push(
      `retry {\n${hclAttributes(
        [
          ['attempts', config.retry.attempts],
          ['backoff', config.retry.backoff],
          ['max_backoff', config.retry.maxBackoff],
        ],
        '  ',
      )}}\n`,
    );
  }
  if (config.wait) parts.push(waitBlock(config.wait, ''));
  const commands = notifyCommands(config.templates);
  for (const [name, { argv, timeout }] of commands.blocks) {
    parts.push(
      `notify ${hclString(name)} {\n${hclAttributes(
        [
          ['command', argv],
          ['timeout', timeout],
        ],
        '  ',
      )}}\n`,
    );
  }
  if (config.exec) {
    const e = config.exec;
    let block = hclAttributes(
      [
        ['command', e.command],
        ['reload_signal', e.reloadSignal],
        ['kill_signal', e.killSignal],
        ['kill_timeout', e.killTimeout],
        ['splay', e.splay],
      ],
      '  ',
    );
    if (e.env)
      block += `  env {\n${hclAttributes(
        [
          ['pristine', e.env.pristine],
          ['allow', e.env.allow],
          ['deny', e.env.deny],
        ],
        '    ',
      )}  }\n`;
    parts.push(`exec {\n${block}}\n`);
  }
  config.envTemplates.forEach((t, i) => {
    const source = written.envTemplateFiles[i] ?? '';
    parts.push(
      `env_template ${hclString(t.name)} {\n${hclAttributes(
        [
          ['source', source],
          ['error_on_missing_key', t.errorOnMissingKey],
        ],
        '  ',
      )}}\n`,
    );
  });
  config.templates.forEach((t, i) => {
    const notify = [...(t.notifiesExec && config.exec ? ['exec'] : []), ...(commands.byTemplate[i] ? [commands.byTemplate[i]] : [])];
    let block = hclAttributes(
      [
        ['source', written.templateFiles[i] ?? ''],
        ['destination', t.destination],
        ['perms', t.perms],
        ['user', t.user],
        ['group', t.group],
        ['create_dest_dirs', t.createDestDirs],
        // The peers default to false; the sidecar to true: always written, so the converted config keeps the peer's.
        ['error_on_missing_key', t.errorOnMissingKey],
        // Written even when empty: the sidecar's default would fire every notify block.
        ['notify', notify],
      ],
      '  ',
    );
    if (t.wait) block += waitBlock(t.wait, '  ');
    parts.push(`template {\n${block}}\n`);
  });
  return parts.join('\n');
}

function vaultBackend(config: PeerConfig): string {
  const v = config.vault ?? {};
  let block = hclAttributes(
    [
      ['address', v.address],
      ['namespace', v.namespace],
      ['ca_cert', v.caCert],
      ['client_cert', v.clientCert],
      ['client_key', v.clientKey],
      ['tls_server_name', v.tlsServerName],
      ['tls_skip_verify', v.tlsSkipVerify],
      ['max_connections', v.maxConnections],
      ['lease_renewal_threshold', v.leaseRenewalThreshold],
      ['static_refresh_interval', v.staticRefreshInterval],
    ],
    '  ',
  );
  if (v.auth) block += authBlock(v.auth);
  return `backend "vault" ${hclString(VAULT_BACKEND)} {\n${block}}\n`;
}

function authBlock(auth: PeerAuth): string {
  switch (auth.method) {
    case 'token':
      return `  auth "token" {\n${hclAttributes([['token_file', auth.tokenFile]], '    ')}  }\n`;
    case 'approle':
      return `  auth "approle" {\n${hclAttributes(
        [
          ['role_id_file', auth.roleIdFile],
          ['secret_id_file', auth.secretIdFile],
          ['mount', auth.mount],
        ],
        '    ',
      )}  }\n`;
    case 'jwt':
    case 'kubernetes':
      return `  auth ${hclString(auth.method)} {\n${hclAttributes(
        [
          ['role', auth.role],
          ['jwt_file', auth.jwtFile],
          ['mount', auth.mount],
        ],
        '    ',
      )}  }\n`;
  }
}

function waitBlock(wait: PeerWait, indent: string): string {
  return `${indent}wait {\n${hclAttributes(
    [
      ['min', wait.min],
      ['max', wait.max],
    ],
    `${indent}  `,
  )}${indent}}\n`;
}

/**
 * One notify block per distinct command (consul-template also runs a command shared by several templates once
 * per change), named command-1, command-2, … in the order the templates name them.
 */
function notifyCommands(templates: readonly PeerTemplate[]): {
  blocks: Map<string, { argv: readonly string[]; timeout: string | undefined }>;
  byTemplate: Array<string | undefined>;
} {
  const blocks = new Map<string, { argv: readonly string[]; timeout: string | undefined }>();
  const names = new Map<string, string>();
  const byTemplate = templates.map((t) => {
    if (!t.command) return undefined;
    const key = JSON.stringify([t.command, t.commandTimeout]);
    let name = names.get(key);
    if (!name) {
      name = `command-${names.size + 1}`;
      names.set(key, name);
      blocks.set(name, { argv: t.command, timeout: t.commandTimeout });
    }
    return name;
  });
  return { blocks, byTemplate };
}
