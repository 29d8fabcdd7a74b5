import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Daemon, runCli, type LogRecord } from '../support/cli.js';
import { removeDir, REPO_ROOT } from '../support/dirs.js';
import { expectNoSecrets } from '../support/leaks.js';
import { makeProject, type Project } from '../support/project.js';

const SECRET = 'snapshot-pw-5e0d';
let project: Project | undefined;
let daemon: Daemon | undefined;
afterEach(async () => {
  await daemon?.stop();
  daemon = undefined;
  await removeDir(project?.root);
  project = undefined;
});

/** What the build's warm-up (src/cli/snapshot-warm-up.ts) ran on: none of it may reach a real process. */
const WARM_UP_TRACES = ['warm-up', 'WARM_UP', '"warm"', '"up"', 'a=1b=2'];

/** The config and refs of the warm-up, on a file backend of the same name: a value it cached would show. */
const WARM_UP_LOOKALIKE = `backend "file" "local" {\n  path = "secrets.json"\n}\ntemplate {\n  source = "templates/a.hbs"\n  destination = "@OUT@/a.env"\n}\n`;
const LOOKALIKE_TEMPLATE =
  'PW={{secret "local:db"}}\n{{#each (secret "local:list")}}{{@key}}={{this}}{{/each}}\n{{#if (secret "local:flag")}}on{{else}}off{{/if}}\n';

const pids = (records: readonly LogRecord[]) => new Set(records.map((r) => r['pid']));

// The image's way of starting: node, its V8 flags, the start-up snapshot, "--", then secrets-sidecar's arguments.
describe('start-up snapshot (dist/snapshot/sidecar.blob, as the image runs it)', () => {
  it("passes options after -- to secrets-sidecar, not to node: --version is the package's", async () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    const result = await runCli(['--version'], { snapshot: true });
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(pkg.version);
  });

  it('renders with a key of its own in each process: a fingerprint is not baked into the snapshot', async () => {
    project = await makeProject({
      config: `backend "file" "local" {\n  path = "secrets.json"\n}\ntemplate {\n  source = "templates/a.hbs"\n  destination = "@OUT@/a.env"\n}\n`,
      secrets: { db: SECRET },
      templates: { 'a.hbs': 'PW={{secret "local:db"}}\n' },
    });
    const versions: string[] = [];
    for (let i = 0; i < 2; i++) {
      const result = await runCli(['once', '-c', project.config, '--log-level', 'info'], { snapshot: true });
      expect(result.code, result.stderr).toBe(0);
      expect(readFileSync(join(project.out, 'a.env'), 'utf8')).toBe(`PW=${SECRET}\n`);
      const audit = result.stderr
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { audit?: { version?: string } })
        .find((r) => r.audit?.version);
      versions.push(audit?.audit?.version ?? '');
      expectNoSecrets(result.stdout + result.stderr, [SECRET]);
    }
    expect(versions[0]).toMatch(/^h:[0-9a-f]{16}$/);
    // The same value under two processes' keys: equal only if the key came from the snapshot.
    expect(versions[1]).toMatch(/^h:[0-9a-f]{16}$/);
    expect(versions[1]).not.toBe(versions[0]);
  });

  it("logs each process's own pid and nothing of the warm-up's config, values or log lines", async () => {
    project = await makeProject({
      config: WARM_UP_LOOKALIKE,
      secrets: { db: SECRET, list: { x: 'y' }, flag: false },
      templates: { 'a.hbs': LOOKALIKE_TEMPLATE },
    });
    const seen: unknown[] = [];
    for (let i = 0; i < 2; i++) {
      const result = await runCli(['once', '-c', project.config, '--log-level', 'debug'], { snapshot: true });
      expect(result.code, result.stderr).toBe(0);
      expect(readFileSync(join(project.out, 'a.env'), 'utf8')).toBe(`PW=${SECRET}\nx=y\noff\n`);
      const records = result.stderr
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as LogRecord);
      expect(records.length).toBeGreaterThan(0);
      // One pid per process, the process's own: pino's default base is read at module load, in the build.
      expect(pids(records).size).toBe(1);
      seen.push(...pids(records));
      expect(records.every((r) => r['hostname'] === undefined)).toBe(true);
      for (const trace of WARM_UP_TRACES) expect(result.stdout + result.stderr).not.toContain(trace);
      expectNoSecrets(result.stdout + result.stderr, [SECRET]);
    }
    expect(new Set(seen).size).toBe(2);

    // A ref the warm-up rendered (local:missing, local:list) but this store lacks is missing, not a cached value.
    await project.write('templates/a.hbs', '{{#each (secret "local:list")}}{{@key}}={{this}}{{/each}}{{secret "local:missing"}}\n');
    const missing = await runCli(['once', '-c', project.config], { snapshot: true });
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('local:missing');
    for (const trace of WARM_UP_TRACES) expect(missing.stdout + missing.stderr).not.toContain(trace);
  });

  it('runs as a daemon from the snapshot: renders, reloads on SIGHUP, logs its own pid, stops on SIGTERM', async () => {
    project = await makeProject({
      config: WARM_UP_LOOKALIKE,
      secrets: { db: SECRET, list: { x: 'y' }, flag: true },
      templates: { 'a.hbs': LOOKALIKE_TEMPLATE },
    });
    daemon = new Daemon(['-c', project.config], { snapshot: true });
    await daemon.waitFor((r) => r.msg === 'all templates rendered');
    expect(readFileSync(join(project.out, 'a.env'), 'utf8')).toBe(`PW=${SECRET}\nx=y\non\n`);

    const mark = daemon.mark;
    await project.write('templates/a.hbs', 'PW2={{secret "local:db"}}\n');
    daemon.signal('SIGHUP');
    await daemon.waitFor((r) => r.msg === 'configuration reloaded', mark);
    await daemon.waitFor((r) => r.msg === 'rendered', mark);
    expect(readFileSync(join(project.out, 'a.env'), 'utf8')).toBe(`PW2=${SECRET}\n`);

    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
    expect([...pids(daemon.records)]).toEqual([daemon.child.pid]);
    for (const trace of WARM_UP_TRACES) expect(daemon.stdout + daemon.stderr).not.toContain(trace);
    expectNoSecrets(daemon.stdout + daemon.stderr, [SECRET]);
  });
});
