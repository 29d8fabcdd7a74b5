import { readdirSync, readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Daemon } from '../support/cli.js';
import { REPO_ROOT, removeDir } from '../support/dirs.js';
import { expectNoSecrets } from '../support/leaks.js';
import { makeProject, type Project } from '../support/project.js';

let project: Project | undefined;
let daemon: Daemon | undefined;
afterEach(async () => {
  await daemon?.stop();
  await removeDir(project?.root);
  daemon = project = undefined;
});

const APP = join(REPO_ROOT, 'test/fixtures/signal-recorder.mjs');
const TLS_V1 = { cert: 'EXEC-CERT-v1-1a1a', key: 'EXEC-KEY-v1-2b2b', db: 'exec-db-pw-v1-3c3c' };
const TLS_V2 = { cert: 'EXEC-CERT-v2-4d4d', key: 'EXEC-KEY-v2-5e5e', db: 'exec-db-pw-v2-6f6f' };
const SECRET_VALUES = [...Object.values(TLS_V1), ...Object.values(TLS_V2)];

type Ready = { ready: number; files: Record<string, string | null>; env: Record<string, string | null>; envNames: string[] };
const isReady = (r: Record<string, unknown>) => r['ready'] !== undefined;
const isSignal = (name: string) => (r: Record<string, unknown>) => r['signal'] === name;

/** An app supervised by the sidecar, reading cert.pem and key.pem rendered from one secret. */
function execConfig(execBody: string, extra = ''): string {
  return `
backend "file" "local" {
  path = "secrets.json"
}
${extra}
exec {
  ${execBody}
}
template {
  contents    = "{{secret \\"local:tls#cert\\"}}\\n"
  destination = "@OUT@/cert.pem"
}
template {
  contents    = "{{secret \\"local:tls#key\\"}}\\n"
  destination = "@OUT@/key.pem"
}
`;
}

function command(...extra: string[]): string {
  return `command = ${JSON.stringify([process.execPath, APP, '--watch', '@OUT@/cert.pem,@OUT@/key.pem', ...extra])}`;
}

async function rotate(p: Project, tls: object): Promise<void> {
  await writeFile(`${p.secretsFile}.tmp`, JSON.stringify({ tls }));
  await rename(`${p.secretsFile}.tmp`, p.secretsFile);
}

/** Children of `pid` that are zombies (exited, not reaped). */
function zombieChildren(pid: number): number[] {
  const zombies: number[] = [];
  for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(ppid) === pid && state === 'Z') zombies.push(Number(entry));
  }
  return zombies;
}

describe('exec (supervised child)', () => {
  it('starts the child only after every template rendered, and reloads it once per burst with the new files in place', async () => {
    project = await makeProject({ config: execConfig(`${command()}\n  reload_signal = "SIGHUP"`), secrets: { tls: TLS_V1 } });
    const cert = join(project.out, 'cert.pem');
    const key = join(project.out, 'key.pem');
    daemon = new Daemon(['-c', project.config]);
    const ready = (await daemon.waitForOutput(isReady)) as Ready;
    expect(ready.files).toEqual({ [cert]: `${TLS_V1.cert}\n`, [key]: `${TLS_V1.key}\n` });

    // The first render's writes did not reload the child: it started after them, with them.
    await daemon.waitFor((r) => r.msg === 'child started');
    expect(daemon.count((r) => r.msg === 'notified' && r['notify'] === 'exec')).toBe(0);

    const mark = daemon.output.length;
    await rotate(project, TLS_V2);
    const reload = await daemon.waitForOutput(isSignal('SIGHUP'), mark);
    expect(reload['files']).toEqual({ [cert]: `${TLS_V2.cert}\n`, [key]: `${TLS_V2.key}\n` });
    expect((await daemon.stop()).code).toBe(0);
    // One SIGHUP for the burst (cert and key changed together); then the shutdown's SIGTERM.
    expect(daemon.output.filter((r) => r['signal'] !== undefined).map((r) => r['signal'])).toEqual(['SIGHUP', 'SIGTERM']);
    expect(daemon.output.filter(isReady)).toHaveLength(1);
    expectNoSecrets(daemon.stderr, SECRET_VALUES);
  });

  it('restarts the child on change when there is no reload_signal', async () => {
    project = await makeProject({ config: execConfig(command()), secrets: { tls: TLS_V1 } });
    daemon = new Daemon(['-c', project.config]);
    const first = (await daemon.waitForOutput(isReady)) as Ready;
    const mark = daemon.output.length;
    await rotate(project, TLS_V2);
    const second = (await daemon.waitForOutput(isReady, mark)) as Ready;
    expect(second.ready).not.toBe(first.ready);
    expect(Object.values(second.files)).toEqual([`${TLS_V2.cert}\n`, `${TLS_V2.key}\n`]);
    expect(daemon.output.slice(mark).findIndex(isSignal('SIGTERM'))).toBeLessThan(daemon.output.slice(mark).findIndex(isReady));
    expect(zombieChildren(daemon.child.pid ?? -1)).toEqual([]);
    expectNoSecrets(daemon.stderr, SECRET_VALUES);
  });

  it('escalates to SIGKILL after kill_timeout for a child that ignores SIGTERM, and leaves no zombie', async () => {
    project = await makeProject({ config: execConfig(`${command('--ignore-term')}\n  kill_timeout = "500ms"`), secrets: { tls: TLS_V1 } });
    daemon = new Daemon(['-c', project.config]);
    const ready = (await daemon.waitForOutput(isReady)) as Ready;
    const sidecarPid = daemon.child.pid ?? -1;
    daemon.signal('SIGTERM');
    expect(await daemon.exited).toEqual({ code: 0, signal: null });
    expect(daemon.output.some(isSignal('SIGTERM'))).toBe(true);
    expect(daemon.records.some((r) => r.msg === 'child did not stop in time; sending SIGKILL')).toBe(true);
    expect(daemon.records.find((r) => r.msg === 'child stopped')).toMatchObject({ signal: 'SIGKILL' });
    expect(() => process.kill(ready.ready, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }) as Error);
    expect(zombieChildren(sidecarPid)).toEqual([]);
  });

  it("exits with the child's exit code when the child exits on its own", async () => {
    project = await makeProject({ config: execConfig(command('--exit', '3')), secrets: { tls: TLS_V1 } });
    daemon = new Daemon(['-c', project.config]);
    expect(await daemon.exited).toEqual({ code: 3, signal: null });
    expect(daemon.records.find((r) => r.msg === 'child exited; stopping')).toMatchObject({ status: 3 });
  });

  it('restarts a failed child when restart = "on-failure"', async () => {
    project = await makeProject({ config: '', secrets: { tls: TLS_V1 } });
    await project.write(
      'sidecar.hcl',
      execConfig(`${command('--fail-once', join(project.root, 'failed-once'))}\n  restart = "on-failure"`).replaceAll('@OUT@', project.out),
    );
    daemon = new Daemon(['-c', project.config]);
    const failing = await daemon.waitForOutput((r) => r['failing'] !== undefined);
    const ready = (await daemon.waitForOutput(isReady)) as Ready;
    expect(ready.ready).not.toBe(failing['failing']);
    expect(daemon.records.find((r) => r.msg === 'child failed; restarting (restart = "on-failure")')).toMatchObject({ status: 1 });
    expect(daemon.child.exitCode).toBeNull();
  });

  it("keeps the sidecar's credentials out of the child's environment, and injects env_template values", async () => {
    const config = execConfig(
      `${command('--env', 'DB_PASSWORD,LANG,AWS_REGION,VAULT_TOKEN')}\n  env {\n    deny = ["INTERNAL_*"]\n  }`,
      'env_template "DB_PASSWORD" {\n  contents = "{{secret \\"local:tls#db\\"}}"\n}\n',
    );
    project = await makeProject({ config, secrets: { tls: TLS_V1 } });
    daemon = new Daemon(['-c', project.config], {
      env: { VAULT_TOKEN: 'hvs.exec-own-token', AWS_REGION: 'eu-west-1', AWS_SECRET_ACCESS_KEY: 'exec-aws-secret', INTERNAL_FLAG: '1', LANG: 'C.UTF-8' },
    });
    const ready = (await daemon.waitForOutput(isReady)) as Ready;
    expect(ready.env).toEqual({ DB_PASSWORD: TLS_V1.db, LANG: 'C.UTF-8', AWS_REGION: null, VAULT_TOKEN: null });
    for (const name of ready.envNames) expect(name).not.toMatch(/^(VAULT_|AWS_|AZURE_|INTERNAL_)/);

    // A new env_template value restarts the child with it (a running process's environment cannot change).
    const mark = daemon.output.length;
    await rotate(project, { ...TLS_V1, db: TLS_V2.db });
    const restarted = (await daemon.waitForOutput(isReady, mark)) as Ready;
    expect(restarted.ready).not.toBe(ready.ready);
    expect(restarted.env['DB_PASSWORD']).toBe(TLS_V2.db);
    expectNoSecrets(daemon.stderr, [...SECRET_VALUES, 'hvs.exec-own-token', 'exec-aws-secret']);
  });

  it('lets env.allow pass a credential variable it names exactly', async () => {
    const config = execConfig(`${command('--env', 'AWS_REGION,AWS_SECRET_ACCESS_KEY,PATH')}\n  env {\n    allow = ["PATH", "AWS_*", "AWS_REGION"]\n  }`);
    project = await makeProject({ config, secrets: { tls: TLS_V1 } });
    daemon = new Daemon(['-c', project.config], { env: { AWS_REGION: 'eu-west-1', AWS_SECRET_ACCESS_KEY: 'exec-aws-secret' } });
    const ready = (await daemon.waitForOutput(isReady)) as Ready;
    expect(ready.env['AWS_REGION']).toBe('eu-west-1');
    expect(ready.env['AWS_SECRET_ACCESS_KEY']).toBeNull();
    expect(ready.env['PATH']).toBeTruthy();
  });

  it('forwards signals other than its own to the child', async () => {
    project = await makeProject({ config: execConfig(`${command()}\n  reload_signal = "SIGUSR1"`), secrets: { tls: TLS_V1 } });
    daemon = new Daemon(['-c', project.config]);
    await daemon.waitForOutput(isReady);
    daemon.signal('SIGUSR2');
    await daemon.waitForOutput(isSignal('SIGUSR2'));
    // SIGHUP is the sidecar's own: it reloads the config, and the child keeps running untouched.
    const mark = daemon.mark;
    daemon.signal('SIGHUP');
    await daemon.waitFor((r) => r.msg === 'configuration reloaded', mark);
    expect(daemon.output.some(isSignal('SIGHUP'))).toBe(false);
    expect(daemon.output.filter(isReady)).toHaveLength(1);
  });
});
