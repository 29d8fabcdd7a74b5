import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { removeDir, REPO_ROOT } from '../support/dirs.js';
import { expectNoSecrets } from '../support/leaks.js';
import { makeProject, type Project } from '../support/project.js';

const SECRET = 'snapshot-pw-5e0d';
let project: Project | undefined;
afterEach(async () => {
  await removeDir(project?.root);
  project = undefined;
});

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
});
