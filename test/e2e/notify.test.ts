import { readFileSync, existsSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Daemon, runCli, type LogRecord } from '../support/cli.js';
import { removeDir } from '../support/dirs.js';
import { RecorderApp } from '../support/fixture-app.js';
import { expectNoSecrets } from '../support/leaks.js';
import { makeProject, type Project } from '../support/project.js';

let project: Project | undefined;
let daemon: Daemon | undefined;
let app: RecorderApp | undefined;
let server: Server | undefined;
afterEach(async () => {
  await daemon?.stop();
  await app?.stop();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  await removeDir(project?.root);
  daemon = app = server = project = undefined;
});

const TLS_V1 = { cert: 'CERT-v1-aaaa1111', key: 'KEY-v1-bbbb2222', comment: 'first' };
const TLS_V2 = { cert: 'CERT-v2-cccc3333', key: 'KEY-v2-dddd4444', comment: 'second' };
const SECRET_VALUES = [TLS_V1.cert, TLS_V1.key, TLS_V2.cert, TLS_V2.key];

/** cert.pem and key.pem from one secret, as a PKI issuance gives them; `notify` is the HCL of the notify blocks. */
function tlsConfig(notify: string, extra = ''): string {
  return `
backend "file" "local" {
  path = "secrets.json"
}
retry {
  backoff     = "100ms"
  max_backoff = "400ms"
}
${notify}
template {
  contents    = "{{secret \\"local:tls#cert\\"}}\\n"
  destination = "@OUT@/cert.pem"
  ${extra}
}
template {
  contents    = "{{secret \\"local:tls#key\\"}}\\n"
  destination = "@OUT@/key.pem"
  ${extra}
}
`;
}

async function rotate(p: Project, tls: object): Promise<void> {
  await writeFile(`${p.secretsFile}.tmp`, JSON.stringify({ tls }));
  await rename(`${p.secretsFile}.tmp`, p.secretsFile);
}

const notified = (name: string) => (r: LogRecord) => r.msg === 'notified' && r['notify'] === name;

describe('notify', () => {
  it('signals the app by pid file once per burst, after both files of the burst are written', async () => {
    project = await makeProject({ config: tlsConfig(`notify "app" {\n  pid_file = "@ROOT@/app.pid"\n  signal = "SIGHUP"\n}\n`), secrets: { tls: TLS_V1 } });
    const cert = join(project.out, 'cert.pem');
    const key = join(project.out, 'key.pem');
    app = new RecorderApp(['--pid-file', join(project.root, 'app.pid'), '--watch', `${cert},${key}`]);
    await app.ready;
    daemon = new Daemon(['-c', project.config]);
    // The first render wrote new files, so the app is told once.
    await app.waitForSignals(1);
    expect(app.signals[0]).toEqual({ signal: 'SIGHUP', files: { [cert]: `${TLS_V1.cert}\n`, [key]: `${TLS_V1.key}\n` } });

    const mark = daemon.mark;
    await rotate(project, TLS_V2);
    await app.waitForSignals(2);
    // When the signal arrives, both files already hold the new issuance.
    expect(app.signals[1]).toEqual({ signal: 'SIGHUP', files: { [cert]: `${TLS_V2.cert}\n`, [key]: `${TLS_V2.key}\n` } });
    await daemon.waitFor(notified('app'), mark);
    expect((await daemon.stop()).code).toBe(0);
    expect(app.signals).toHaveLength(2);
    expect(daemon.count((r) => r.msg === 'rendered', mark)).toBe(2);
    expectNoSecrets(daemon.stderr, SECRET_VALUES);
  });

  it('does not fire for a template whose bytes did not change, nor for a template with notify = []', async () => {
    const config = tlsConfig(`notify "app" {\n  pid_file = "@ROOT@/app.pid"\n}\n`).replace(
      'destination = "@OUT@/key.pem"',
      'destination = "@OUT@/key.pem"\n  notify = []',
    );
    project = await makeProject({ config, secrets: { tls: TLS_V1 } });
    app = new RecorderApp(['--pid-file', join(project.root, 'app.pid')]);
    await app.ready;
    daemon = new Daemon(['-c', project.config, '--log-level', 'debug']);
    await app.waitForSignals(1);

    // Only a field no template reads: both templates render, neither file changes.
    let mark = daemon.mark;
    await rotate(project, { ...TLS_V1, comment: 'changed' });
    await daemon.waitFor((r) => r.msg === 'rendered' && r['outcome'] === 'unchanged' && String(r['destination']).endsWith('cert.pem'), mark);
    // Only the key changes, and key.pem has notify = [].
    mark = daemon.mark;
    await rotate(project, { ...TLS_V1, key: TLS_V2.key });
    await daemon.waitFor((r) => r.msg === 'rendered' && r['outcome'] === 'written' && String(r['destination']).endsWith('key.pem'), mark);
    expect((await daemon.stop()).code).toBe(0);
    expect(app.signals).toHaveLength(1);
    expect(daemon.count((r) => r.msg === 'notified')).toBe(1);
    expectNoSecrets(daemon.stderr, SECRET_VALUES);
  });

  it('signals processes found by a command-line pattern', async () => {
    const tag = `tag-${process.pid}-${Date.now()}`;
    project = await makeProject({
      config: tlsConfig(`notify "app" {\n  process = "signal-recorder\\\\.mjs .*${tag}"\n  signal  = "SIGUSR1"\n}\n`),
      secrets: { tls: TLS_V1 },
    });
    app = new RecorderApp(['--tag', tag]);
    await app.ready;
    daemon = new Daemon(['-c', project.config]);
    await app.waitForSignals(1);
    expect(app.signals[0]?.signal).toBe('SIGUSR1');
    expect((await daemon.waitFor(notified('app'))).detail).toBe(`SIGUSR1 to pid ${app.child.pid}`);
  });

  it('retries while the pid file is missing, and signals the app once it is up', async () => {
    project = await makeProject({ config: tlsConfig(`notify "app" {\n  pid_file = "@ROOT@/late.pid"\n}\n`), secrets: { tls: TLS_V1 } });
    daemon = new Daemon(['-c', project.config]);
    const failure = await daemon.waitFor((r) => r.msg === 'notify failed, retrying');
    expect((failure['error'] as { code: string }).code).toBe('SIDECAR_ERR_RELOAD_TARGET_MISSING');
    app = new RecorderApp(['--pid-file', join(project.root, 'late.pid')]);
    await app.ready;
    await app.waitForSignals(1);
    expect(app.signals[0]?.signal).toBe('SIGHUP');
    expect(daemon.child.exitCode).toBeNull();
  });

  it('calls an HTTP hook once per burst', async () => {
    const requests: string[] = [];
    server = createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      res.writeHead(200).end('reloaded');
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    project = await makeProject({
      config: tlsConfig(`notify "prom" {\n  http {\n    url = "http://127.0.0.1:${port}/-/reload"\n    method = "POST"\n    timeout = "2s"\n  }\n}\n`),
      secrets: { tls: TLS_V1 },
    });
    daemon = new Daemon(['-c', project.config]);
    await daemon.waitFor(notified('prom'));
    const mark = daemon.mark;
    await rotate(project, TLS_V2);
    await daemon.waitFor(notified('prom'), mark);
    expect((await daemon.stop()).code).toBe(0);
    expect(requests).toEqual(['POST /-/reload', 'POST /-/reload']);
    expectNoSecrets(daemon.stderr, SECRET_VALUES);
  });

  it('runs a command hook with none of the sidecar credentials in its environment', async () => {
    project = await makeProject({ config: '', secrets: { tls: TLS_V1 } });
    const envDump = join(project.root, 'hook-env.json');
    const script = `require('fs').writeFileSync(${JSON.stringify(envDump)}, JSON.stringify(process.env))`;
    await project.write(
      'sidecar.hcl',
      tlsConfig(`notify "hook" {\n  command = [${JSON.stringify(process.execPath)}, "-e", ${JSON.stringify(script)}]\n  timeout = "10s"\n}\n`).replaceAll(
        '@OUT@',
        project.out,
      ),
    );
    daemon = new Daemon(['-c', project.config], { env: { VAULT_TOKEN: 'hvs.sidecar-own-token', AWS_SECRET_ACCESS_KEY: 'aws-own-secret', LANG: 'C.UTF-8' } });
    await daemon.waitFor(notified('hook'));
    const env = JSON.parse(readFileSync(envDump, 'utf8')) as Record<string, string>;
    expect(env['VAULT_TOKEN']).toBeUndefined();
    expect(env['AWS_SECRET_ACCESS_KEY']).toBeUndefined();
    expect(env['LANG']).toBe('C.UTF-8');
    expect(env['PATH']).toBeDefined();
    expectNoSecrets(daemon.stderr, [...SECRET_VALUES, 'hvs.sidecar-own-token', 'aws-own-secret']);
  });

  it('kills a command hook that hangs past its timeout, and keeps running', async () => {
    project = await makeProject({ config: '', secrets: { tls: TLS_V1 } });
    const pidFile = join(project.root, 'hung.pid');
    const script = `require('fs').writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); setInterval(() => {}, 1000)`;
    await project.write(
      'sidecar.hcl',
      tlsConfig(`notify "hang" {\n  command = [${JSON.stringify(process.execPath)}, "-e", ${JSON.stringify(script)}]\n  timeout = "500ms"\n}\n`).replaceAll(
        '@OUT@',
        project.out,
      ),
    );
    daemon = new Daemon(['-c', project.config]);
    const failure = await daemon.waitFor((r) => r.msg === 'notify failed, retrying');
    expect((failure['error'] as { code: string; message: string }).code).toBe('SIDECAR_ERR_RELOAD_TIMEOUT');
    const hung = Number(readFileSync(pidFile, 'utf8'));
    expect(() => process.kill(hung, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }) as Error);
    expect(daemon.child.exitCode).toBeNull();
  });

  it('writes its own pid file while it runs and removes it on exit', async () => {
    project = await makeProject({ config: `pid_file = "@ROOT@/sidecar.pid"\n${tlsConfig('')}`, secrets: { tls: TLS_V1 } });
    daemon = new Daemon(['-c', project.config]);
    await daemon.waitFor((r) => r.msg === 'all templates rendered');
    expect(readFileSync(join(project.root, 'sidecar.pid'), 'utf8')).toBe(`${daemon.child.pid}\n`);
    expect((await daemon.stop()).code).toBe(0);
    expect(existsSync(join(project.root, 'sidecar.pid'))).toBe(false);
  });

  it('rejects a template naming an unknown notify target, and a notify block with two kinds', async () => {
    project = await makeProject({ config: tlsConfig(`notify "app" {\n  pid_file = "x.pid"\n}\n`, 'notify = ["ap"]'), secrets: { tls: TLS_V1 } });
    const unknown = await runCli(['validate', '-c', project.config]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('template[0].notify[0]: no notify block is named \\"ap\\" (defined: \\"app\\")');
    await project.write('sidecar.hcl', tlsConfig(`notify "app" {\n  pid_file = "x.pid"\n  command = ["true"]\n}\n`).replaceAll('@OUT@', project.out));
    const both = await runCli(['validate', '-c', project.config]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain(
      'notify.app: a notify block needs exactly one of \\"pid_file\\", \\"process\\", \\"http\\", \\"rollout\\" or \\"command\\" (found pid_file, command)',
    );
  });
});
