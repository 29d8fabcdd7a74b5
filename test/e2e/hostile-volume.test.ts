import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { chmod, chown, link, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { removeDir } from '../support/dirs.js';
import { expectNoSecrets } from '../support/leaks.js';
import { makeProject, type Project } from '../support/project.js';

/*
 * The output directory is shared with the application, so the application (or whoever took it over) can plant
 * things in it. Each case plants one and shows the sidecar writes only its destination, and no secret lands in
 * the planted file.
 */
const SECRET = 'hostile-secret-7c7c';
let project: Project | undefined;
afterEach(async () => {
  await removeDir(project?.root);
  project = undefined;
});

async function setUp(extra = '', destination = '@OUT@/app.env'): Promise<Project> {
  return makeProject({
    config: `${extra}\nbackend "file" "local" {\n  path = "@ROOT@/secrets.json"\n}\ntemplate {\n  contents    = "S={{secret \\"local:s\\"}}"\n  destination = "${destination}"\n}\n`,
    secrets: { s: SECRET },
  });
}

/** A file outside the output directory that a planted link points at. */
async function victim(p: Project): Promise<string> {
  const file = join(p.root, 'victim.txt');
  await writeFile(file, 'untouched\n');
  return file;
}

describe('hostile shared volume (built CLI)', () => {
  it('replaces a symlink planted at the destination instead of writing through it', async () => {
    project = await setUp();
    const target = await victim(project);
    await mkdir(project.out, { recursive: true, mode: 0o700 });
    await symlink(target, join(project.out, 'app.env'));
    const result = await runCli(['once', '-c', project.config]);
    expect(result.code, result.stderr).toBe(0);
    expect(lstatSync(join(project.out, 'app.env')).isSymbolicLink()).toBe(false);
    expect(readFileSync(join(project.out, 'app.env'), 'utf8')).toBe(`S=${SECRET}`);
    expect(readFileSync(target, 'utf8')).toBe('untouched\n');
    expectNoSecrets(result.stderr, [SECRET]);
  });

  it('replaces a hard link planted at the destination, leaving the linked file as it was', async () => {
    project = await setUp();
    const target = await victim(project);
    await mkdir(project.out, { recursive: true, mode: 0o700 });
    await link(target, join(project.out, 'app.env'));
    const result = await runCli(['once', '-c', project.config]);
    expect(result.code, result.stderr).toBe(0);
    expect(readFileSync(join(project.out, 'app.env'), 'utf8')).toBe(`S=${SECRET}`);
    expect(readFileSync(target, 'utf8')).toBe('untouched\n');
    expect(statSync(target).nlink).toBe(1);
  });

  it('does not hang on a FIFO planted at the destination, and replaces it', async () => {
    project = await setUp();
    await mkdir(project.out, { recursive: true, mode: 0o700 });
    execFileSync('mkfifo', [join(project.out, 'app.env')]);
    const result = await runCli(['once', '-c', project.config, '--timeout', '10s']);
    expect(result.code, result.stderr).toBe(0);
    expect(statSync(join(project.out, 'app.env')).isFile()).toBe(true);
  });

  it('removes a planted link named like a leftover temp file without touching what it points at', async () => {
    project = await setUp();
    const target = await victim(project);
    await mkdir(project.out, { recursive: true, mode: 0o700 });
    await symlink(target, join(project.out, '.app.env.sidecar-tmp-0123456789ab'));
    const result = await runCli(['once', '-c', project.config]);
    expect(result.code, result.stderr).toBe(0);
    expect(readdirSync(project.out)).toEqual(['app.env']);
    expect(readFileSync(target, 'utf8')).toBe('untouched\n');
  });

  it('creates missing destination directories 0700', async () => {
    project = await setUp('', '@OUT@/nested/deeper/app.env');
    const result = await runCli(['once', '-c', project.config]);
    expect(result.code, result.stderr).toBe(0);
    expect(statSync(join(project.out, 'nested')).mode & 0o777).toBe(0o700);
    expect(statSync(join(project.out, 'nested', 'deeper')).mode & 0o777).toBe(0o700);
  });

  it.each([
    ['writable by every user without the sticky bit', async (dir: string) => chmod(dir, 0o777), 'is writable by every user and has no sticky bit'],
    ['owned by another user', async (dir: string) => chown(dir, 65534, 65534), 'belongs to uid 65534'],
  ])('warns about a destination directory %s, and refuses it with strict = true', async (_what, plant, message) => {
    project = await setUp();
    await mkdir(project.out, { recursive: true, mode: 0o700 });
    await plant(project.out);
    const warned = await runCli(['once', '-c', project.config]);
    expect(warned.code, warned.stderr).toBe(0);
    expect(warned.stderr).toContain(message);
    await removeDir(join(project.out, 'app.env'));

    await project.write('sidecar.hcl', readFileSync(project.config, 'utf8').replace('backend "file"', 'strict = true\nbackend "file"'));
    const refused = await runCli(['once', '-c', project.config]);
    expect(refused.code).toBe(5);
    expect(refused.stderr).toContain('SIDECAR_ERR_OUTPUT_UNSAFE_DIR');
    expect(existsSync(join(project.out, 'app.env'))).toBe(false);
    expectNoSecrets(warned.stderr + refused.stderr, [SECRET]);
  });

  it('warns about a destination directory that is a symlink', async () => {
    project = await setUp();
    const real = join(project.root, 'elsewhere');
    await mkdir(real, { mode: 0o700 });
    await symlink(real, project.out);
    const result = await runCli(['once', '-c', project.config]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('is a symbolic link');
  });
});
