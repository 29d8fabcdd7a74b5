import { readFileSync, statSync } from 'node:fs';
import { rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Daemon, runCli, type LogRecord } from '../support/cli.js';
import { makeDiskDir, removeDir } from '../support/dirs.js';
import { expectNoSecrets } from '../support/leaks.js';
import { makeKubernetesVolume, updateKubernetesVolume } from '../support/kubernetes-volume.js';
import { makeProject, type Project } from '../support/project.js';

let project: Project | undefined;
let daemon: Daemon | undefined;
afterEach(async () => {
  await daemon?.stop();
  await removeDir(project?.root);
  daemon = undefined;
  project = undefined;
});

const rendered = (template: string) => (r: LogRecord) => r.msg === 'rendered' && r['template'] === template;
const allRendered = (r: LogRecord) => r.msg === 'all templates rendered';

/** Replaces the secrets file the way careful writers do: write aside, rename over. */
async function replaceSecrets(p: Project, secrets: unknown): Promise<void> {
  await writeFile(`${p.secretsFile}.tmp`, JSON.stringify(secrets));
  await rename(`${p.secretsFile}.tmp`, p.secretsFile);
}

const THREE_TEMPLATES = `
backend "file" "local" {
  path = "secrets.json"
}
wait {
  min = "1s"
  max = "5s"
}
template {
  source      = "templates/a.hbs"
  destination = "@OUT@/a.txt"
}
template {
  source      = "templates/b.hbs"
  destination = "@OUT@/b.txt"
}
template {
  source      = "templates/c.hbs"
  destination = "@OUT@/c.txt"
}
`;
const ABC = { a: 'run-a-value-1111', b: 'run-b-value-2222', c: 'run-c-value-3333' };
const ABC_TEMPLATES = { 'a.hbs': 'a={{secret "local:a"}}\n', 'b.hbs': 'b={{secret "local:b"}}\n', 'c.hbs': 'c={{secret "local:c"}}\n' };

describe('run', () => {
  it('re-renders only the template whose secret changed, once per burst, after the wait', async () => {
    project = await makeProject({ config: THREE_TEMPLATES, secrets: ABC, templates: ABC_TEMPLATES });
    daemon = new Daemon(['-c', project.config]);
    await daemon.waitFor(allRendered);
    const out = project.out;
    const before = { b: statSync(join(out, 'b.txt')), c: statSync(join(out, 'c.txt')) };
    const mark = daemon.mark;

    // A burst of three changes to `a` inside the 1s quiescence window.
    const versions = ['run-a-rotated-1', 'run-a-rotated-2', 'run-a-rotated-3'];
    for (const value of versions) await replaceSecrets(project, { ...ABC, a: value });
    const render = await daemon.waitFor(rendered('templates/a.hbs'), mark);
    expect(readFileSync(join(out, 'a.txt'), 'utf8')).toBe('a=run-a-rotated-3\n');

    // The render waited out the quiet period after the last fetch that brought a new version.
    const fetches = daemon.records.slice(mark).filter((r) => (r['audit'] as { path?: string } | undefined)?.path === 'a');
    const changes = fetches.filter((r, i) => {
      const version = (r['audit'] as { version?: string }).version;
      const previous = i === 0 ? undefined : (fetches[i - 1]?.['audit'] as { version?: string }).version;
      return version !== previous && Date.parse(String(r.time)) <= Date.parse(String(render.time));
    });
    expect(changes.length).toBeGreaterThan(0);
    const lastChange = Date.parse(String(changes[changes.length - 1]?.time));
    expect(Date.parse(String(render.time)) - lastChange).toBeGreaterThanOrEqual(1000);

    expect((await daemon.stop()).code).toBe(0);
    expect(daemon.count(rendered('templates/a.hbs'), mark)).toBe(1);
    expect(daemon.count(rendered('templates/b.hbs'), mark)).toBe(0);
    expect(daemon.count(rendered('templates/c.hbs'), mark)).toBe(0);
    expect(statSync(join(out, 'b.txt'))).toMatchObject({ ino: before.b.ino, mtimeMs: before.b.mtimeMs });
    expect(statSync(join(out, 'c.txt'))).toMatchObject({ ino: before.c.ino, mtimeMs: before.c.mtimeMs });
    expectNoSecrets(daemon.stderr, [...Object.values(ABC), ...versions]);
  });

  it('notices a Kubernetes secret volume update (..data swap) and re-renders', async () => {
    project = await makeProject({
      config:
        'backend "file" "k8s" {\n  path = "@ROOT@/volume"\n}\ntemplate {\n  contents = "pw={{trim (secret \\"k8s:password\\")}}\\n"\n  destination = "@OUT@/pw.txt"\n}\n',
    });
    const volume = join(project.root, 'volume');
    await makeKubernetesVolume(volume, { password: 'k8s-run-old-4444\n' });
    daemon = new Daemon(['-c', project.config]);
    await daemon.waitFor(allRendered);
    expect(readFileSync(join(project.out, 'pw.txt'), 'utf8')).toBe('pw=k8s-run-old-4444\n');
    const mark = daemon.mark;
    await updateKubernetesVolume(volume, { password: 'k8s-run-new-5555\n' });
    await daemon.waitFor((r) => r.msg === 'rendered' && r['outcome'] === 'written', mark);
    expect(readFileSync(join(project.out, 'pw.txt'), 'utf8')).toBe('pw=k8s-run-new-5555\n');
    expectNoSecrets(daemon.stderr, ['k8s-run-old-4444', 'k8s-run-new-5555']);
  });

  it('keeps the last good file while the backend is broken, and recovers when it is fixed', async () => {
    project = await makeProject({ config: THREE_TEMPLATES.replace(/wait \{[^}]*\}/, ''), secrets: ABC, templates: ABC_TEMPLATES });
    daemon = new Daemon(['-c', project.config]);
    await daemon.waitFor(allRendered);
    const good = readFileSync(join(project.out, 'a.txt'), 'utf8');

    // Truncated document: permanent until the file changes; the view waits for the next change.
    let mark = daemon.mark;
    await writeFile(`${project.secretsFile}.tmp`, '{"a": "run-a-broken-6666"');
    await rename(`${project.secretsFile}.tmp`, project.secretsFile);
    await daemon.waitFor((r) => r.msg === 'fetch failed; keeping the last good value', mark);
    expect(readFileSync(join(project.out, 'a.txt'), 'utf8')).toBe(good);

    // Source deleted: not retryable; the view waits for the file to come back.
    mark = daemon.mark;
    await unlink(project.secretsFile);
    await daemon.waitFor((r) => r.msg === 'fetch failed; keeping the last good value', mark);
    expect(readFileSync(join(project.out, 'a.txt'), 'utf8')).toBe(good);

    mark = daemon.mark;
    await replaceSecrets(project, { ...ABC, a: 'run-a-recovered-7777' });
    await daemon.waitFor(rendered('templates/a.hbs'), mark);
    expect(readFileSync(join(project.out, 'a.txt'), 'utf8')).toBe('a=run-a-recovered-7777\n');
    expectNoSecrets(daemon.stderr, [...Object.values(ABC), 'run-a-broken-6666', 'run-a-recovered-7777']);
  });

  it('reloads config and templates on SIGHUP, and keeps running on a broken config', async () => {
    project = await makeProject({ config: THREE_TEMPLATES, secrets: ABC, templates: ABC_TEMPLATES });
    daemon = new Daemon(['-c', project.config]);
    await daemon.waitFor(allRendered);
    const original = readFileSync(project.config, 'utf8');

    let mark = daemon.mark;
    await project.write('sidecar.hcl', original + 'bogus_option = true\n');
    daemon.signal('SIGHUP');
    const failed = await daemon.waitFor((r) => r.msg === 'reload failed; keeping the running configuration', mark);
    expect(JSON.stringify(failed)).toContain(`${project.config}:${original.split('\n').length}:1: unknown key \\"bogus_option\\"`);
    expect(readFileSync(join(project.out, 'b.txt'), 'utf8')).toBe('b=run-b-value-2222\n');

    // Still watching with the old config.
    mark = daemon.mark;
    await replaceSecrets(project, { ...ABC, b: 'run-b-after-bad-reload-8888' });
    await daemon.waitFor(rendered('templates/b.hbs'), mark);

    mark = daemon.mark;
    await project.write('sidecar.hcl', original);
    await project.write('templates/c.hbs', 'c-v2={{secret "local:c"}}\n');
    daemon.signal('SIGHUP');
    await daemon.waitFor((r) => r.msg === 'configuration reloaded', mark);
    await daemon.waitFor(rendered('templates/c.hbs'), mark);
    expect(readFileSync(join(project.out, 'c.txt'), 'utf8')).toBe('c-v2=run-c-value-3333\n');
    expect(readFileSync(join(project.out, 'a.txt'), 'utf8')).toBe('a=run-a-value-1111\n');
    expectNoSecrets(daemon.stderr, [...Object.values(ABC), 'run-b-after-bad-reload-8888']);
  });

  it('exits 0 on SIGTERM and on SIGINT', async () => {
    project = await makeProject({ config: THREE_TEMPLATES, secrets: ABC, templates: ABC_TEMPLATES });
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      daemon = new Daemon(['-c', project.config]);
      await daemon.waitFor(allRendered);
      daemon.signal(signal);
      expect(await daemon.exited).toEqual({ code: 0, signal: null });
      expect(daemon.records.some((r) => r.msg === 'shutting down' && r['signal'] === signal)).toBe(true);
      expectNoSecrets(daemon.stderr, Object.values(ABC));
    }
  });

  it('exits 5 at start when a destination is not on tmpfs', async () => {
    const disk = await makeDiskDir();
    try {
      project = await makeProject({ config: THREE_TEMPLATES.replaceAll('@OUT@', disk), secrets: ABC, templates: ABC_TEMPLATES });
      const result = await runCli(['run', '-c', project.config]);
      expect(result.code).toBe(5);
      expect(result.stderr).toContain('SIDECAR_ERR_OUTPUT_NOT_TMPFS');
    } finally {
      await removeDir(disk);
    }
  });
});
