import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { parseConfig } from '../config/load-config.js';
import { createLogger } from '../log/logger.js';
import { compileTemplate } from '../template/compile.js';
import { renderTemplate } from '../template/render.js';
import { runCli } from './program.js';

/*
 * Run once while the start-up snapshot is built (snapshot.ts). V8 keeps the bytecode of the functions that ran
 * in the blob, so a process started from it does not compile config validation, template compiling and
 * rendering, log writing and building the command line again: that lazy compilation was about a fifth of a
 * one-template `once` (CPU profile).
 * Only work that leaves nothing per-process behind: no backend is opened (the file fingerprint key is made on
 * first use), a render's nonces are its own, and the logger writes nowhere and is dropped.
 */

/** Written in HCL, as most configs are; JSON configs share everything after the parser. */
const CONFIG = `
log_level = "info"
backend "vault" "main" {
  address         = "http://127.0.0.1:8200"
  max_connections = 10
  auth "token" {
    token_file = "/warm-up/token"
  }
}
backend "file" "local" {
  path = "/warm-up/secrets.json"
}
template {
  source      = "/warm-up/a.hbs"
  destination = "/dev/shm/warm-up/a.env"
  perms       = "0640"
  wait {
    min = "1s"
    max = "5s"
  }
}
template {
  source      = "/warm-up/b.hbs"
  destination = "/dev/shm/warm-up/b.env"
  notify      = ["app"] # a comment
}
notify "app" {
  pid_file = "/warm-up/app.pid"
  signal   = "SIGHUP"
}
`;

const TEMPLATE = [
  'USER={{secret "main:secret/app#username"}}',
  'PASS={{secret "main:secret/app#password"}}',
  '{{#with (secret "main:database/creds/app")}}DB={{username}}:{{password}}{{/with}}',
  '{{#each (secret "local:list")}}{{@key}}={{this}}{{/each}}',
  '{{#if (secret "local:flag")}}on{{else}}off{{/if}} {{default (secret "local:missing") "none"}}',
  '',
].join('\n');

const VALUES: Record<string, unknown> = {
  'secret/app': { username: 'warm', password: 'up' },
  'database/creds/app': { username: 'warm', password: 'up' },
  list: { a: '1', b: '2' },
  flag: true,
  missing: '',
};

export async function warmUp(): Promise<void> {
  const nowhere = new Writable({ write: (_chunk, _encoding, done) => done() });
  // The command line (commander builds the whole program at each start), without running a command.
  await runCli(['node', 'secrets-sidecar', '--version'], { stdout: nowhere, stderr: nowhere, env: {}, signals: new EventEmitter() });
  await parseConfig(CONFIG, '/warm-up/sidecar.hcl');
  const template = compileTemplate('warm-up.hbs', TEMPLATE, true);
  renderTemplate(template, {
    store: { lookup: (_key, ref) => ({ status: 'ready', value: VALUES[ref.path] }) },
    mask: false,
    errorOnMissingKey: false,
    env: {},
    envAllow: [],
  });
  const logger = createLogger({ level: 'info', format: 'json', stream: nowhere });
  logger.info({ template: 'warm-up.hbs', destination: '/dev/shm/warm-up/a.env', outcome: 'written' }, 'rendered');
  logger.warn({ error: { code: 'SIDECAR_ERR_WARM_UP', message: 'warm-up' } }, 'warm-up');
}
