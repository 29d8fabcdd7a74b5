import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { makeDiskDir, removeDir } from '../support/dirs.js';
import { expectNoSecrets } from '../support/leaks.js';
import { makeProject, type Project } from '../support/project.js';

const SECRETS = { db: { username: 'app', password: 'once-db-pw-48a1' }, api_key: 'once-api-key-77c3' };
const SECRET_VALUES = ['once-db-pw-48a1', 'once-api-key-77c3'];

const CONFIG = `
backend "file" "local" {
  path = "secrets.json"
}
template {
  source      = "templates/app.env.hbs"
  destination = "@OUT@/app.env"
}
template {
  source      = "templates/db.json.hbs"
  destination = "@OUT@/db.json"
  perms       = "0640"
}
`;
const TEMPLATES = {
  'app.env.hbs': 'DB_PASSWORD={{secret "local:db#password"}}\nAPI_KEY={{secret "local:api_key"}}\n',
  'db.json.hbs': '{{json (secret "local:db")}}\n',
};

let project: Project | undefined;
let disk: string | undefined;
afterEach(async () => {
  await removeDir(project?.root);
  await removeDir(disk);
  project = undefined;
  disk = undefined;
});

describe('once', () => {
  it('renders every template onto tmpfs with its mode, logs an audit line per fetch, and exits 0', async () => {
    project = await makeProject({ config: CONFIG, secrets: SECRETS, templates: TEMPLATES });
    const result = await runCli(['once', '-c', project.config]);
    expect(result.code).toBe(0);
    expect(readFileSync(join(project.out, 'app.env'), 'utf8')).toBe('DB_PASSWORD=once-db-pw-48a1\nAPI_KEY=once-api-key-77c3\n');
    expect(JSON.parse(readFileSync(join(project.out, 'db.json'), 'utf8'))).toEqual(SECRETS.db);
    expect(statSync(join(project.out, 'app.env')).mode & 0o777).toBe(0o600);
    expect(statSync(join(project.out, 'db.json')).mode & 0o777).toBe(0o640);
    const audits = result.stderr
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { audit?: { path: string; outcome: string; backend: string; version: string } })
      .filter((r) => r.audit);
    // Two secrets, each fetched once although three references name them.
    expect(audits.map((r) => r.audit?.path).sort()).toEqual(['api_key', 'db']);
    expect(audits.every((r) => r.audit?.outcome === 'ok' && r.audit.backend === 'local' && /^h:/.test(r.audit.version))).toBe(true);
    expectNoSecrets(result.stderr, SECRET_VALUES);
    expect(result.stdout).toBe('');
  });

  it('prints masked templates with --dry-run and writes nothing', async () => {
    project = await makeProject({ config: CONFIG, secrets: SECRETS, templates: TEMPLATES });
    const result = await runCli(['once', '-c', project.config, '--dry-run']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`==> ${join(project.out, 'app.env')} <==\nDB_PASSWORD=<masked:local:db#password>\nAPI_KEY=<masked:local:api_key>\n`);
    expect(result.stdout).toContain('"password":"<masked:local:db#password>"');
    expectNoSecrets(result.stdout + result.stderr, SECRET_VALUES);
    expect(existsSync(project.out)).toBe(false);
  });

  it('prints real values only with --dry-run --show-secrets, and warns on the log', async () => {
    project = await makeProject({ config: CONFIG, secrets: SECRETS, templates: TEMPLATES });
    const result = await runCli(['once', '-c', project.config, '--dry-run', '--show-secrets']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('DB_PASSWORD=once-db-pw-48a1');
    expect(result.stderr).toContain('printing secret values to stdout');
    expectNoSecrets(result.stderr, SECRET_VALUES);
    expect((await runCli(['once', '-c', project.config, '--show-secrets'])).code).toBe(2);
  });

  it('exits 4 on a missing key, naming template and reference, and leaves every file as it was', async () => {
    project = await makeProject({ config: CONFIG, secrets: SECRETS, templates: TEMPLATES });
    expect((await runCli(['once', '-c', project.config])).code).toBe(0);
    const before = readFileSync(join(project.out, 'app.env'), 'utf8');
    await project.write('templates/db.json.hbs', 'user={{secret "local:db#usernme"}}\n');
    await writeFile(project.secretsFile, JSON.stringify({ ...SECRETS, api_key: 'once-rotated-key-91' }));
    const result = await runCli(['once', '-c', project.config]);
    expect(result.code).toBe(4);
    expect(result.stderr).toContain('template \\"templates/db.json.hbs\\" line 1: secret \\"local:db#usernme\\" has no key \\"usernme\\"');
    // Nothing partial: app.env rendered fine in memory but was not written, because db.json failed.
    expect(readFileSync(join(project.out, 'app.env'), 'utf8')).toBe(before);
    expectNoSecrets(result.stderr, [...SECRET_VALUES, 'once-rotated-key-91']);
  });

  it('exits 3 when the backend has no such secret, naming template, reference and backend', async () => {
    project = await makeProject({ config: CONFIG, secrets: { db: SECRETS.db }, templates: TEMPLATES });
    const result = await runCli(['once', '-c', project.config]);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('template \\"templates/app.env.hbs\\": secret \\"local:api_key\\": backend \\"local\\" has no secret \\"api_key\\"');
    expect(existsSync(join(project.out, 'app.env'))).toBe(false);
    expectNoSecrets(result.stderr, ['once-db-pw-48a1']);
  });

  it('exits 6 when a backend keeps failing past --timeout, saying what it waited for', async () => {
    project = await makeProject({ config: CONFIG, templates: TEMPLATES });
    // A symlink loop: ELOOP is an I/O error, retried (a truncated file is malformed: permanent, exit 3).
    await symlink('secrets.json', project.secretsFile);
    const result = await runCli(['once', '-c', project.config, '--timeout', '1500ms']);
    expect(result.code).toBe(6);
    expect(result.stderr).toContain('once did not finish within 1500ms; still waiting for local:db (last error:');
    expect(result.stderr).toContain('fetch failed, retrying with backoff');
    expectNoSecrets(result.stderr, ['once-db-pw-48a1']);
  });

  it('exits 3 at once for a truncated secrets file, naming the position, never the value', async () => {
    project = await makeProject({ config: CONFIG, templates: TEMPLATES });
    await writeFile(project.secretsFile, '{"db": {"password": "once-db-pw-48a1"');
    const result = await runCli(['once', '-c', project.config, '--timeout', '60s']);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('SIDECAR_ERR_BACKEND_MALFORMED');
    expectNoSecrets(result.stderr, ['once-db-pw-48a1']);
  });

  it('exits 5 and writes nothing when a destination is not on tmpfs, and writes with allow_non_tmpfs', async () => {
    disk = await makeDiskDir();
    const config = CONFIG.replaceAll('@OUT@', disk);
    project = await makeProject({ config, secrets: SECRETS, templates: TEMPLATES });
    const refused = await runCli(['once', '-c', project.config]);
    expect(refused.code).toBe(5);
    expect(refused.stderr).toContain('not tmpfs or ramfs');
    expect(readdirSync(disk)).toEqual([]);
    await project.write(
      'sidecar.hcl',
      config
        .replace('destination = "' + disk + '/app.env"', `destination = "${disk}/app.env"\n  allow_non_tmpfs = true`)
        .replace(`destination = "${disk}/db.json"`, `destination = "${disk}/db.json"\n  allow_non_tmpfs = true`)
        .replaceAll('@ROOT@', project.root),
    );
    const allowed = await runCli(['once', '-c', project.config]);
    expect(allowed.code).toBe(0);
    expect(allowed.stderr).toContain('writing secrets to a filesystem that is not in memory');
    expect(readdirSync(disk).sort()).toEqual(['app.env', 'db.json']);
    expectNoSecrets(refused.stderr + allowed.stderr, SECRET_VALUES);
  });
});
