import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { makeTmpfsDir, removeDir } from '../support/dirs.js';

let dir: string | undefined;
afterEach(async () => {
  await removeDir(dir);
  dir = undefined;
});

async function project(files: Record<string, string>): Promise<string> {
  dir = await makeTmpfsDir('convert-cli-');
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}

function logged(stderr: string): { code?: string; message?: string } {
  const line = stderr.split('\n').find((l) => l.startsWith('{'));
  return line ? ((JSON.parse(line) as { error: { code: string; message: string } }).error ?? {}) : {};
}

describe('secrets-sidecar convert', () => {
  it('exits 0 and writes sidecar.hcl, the templates and an empty report when everything translates', async () => {
    const root = await project({
      'ct.hcl': 'template {\n  source = "a.tpl"\n  destination = "out/a"\n}\n',
      'a.tpl': '{{ with secret "kv/x" }}{{ .Data.v }}{{ end }}\n',
    });
    const result = await runCli(['convert', '--from', 'consul-template', 'ct.hcl', '--out', 'converted'], { cwd: root });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('1 templates, 1 converted without a report line; 0 report lines; wrote converted\n');
    expect((await readdir(join(root, 'converted'))).sort()).toEqual(['conversion-report.txt', 'sidecar.hcl', 'templates']);
    const validated = await runCli(['validate', '-c', join(root, 'converted', 'sidecar.hcl')]);
    expect(validated.code, validated.stderr).toBe(0);
  });

  it('exits 8 with --check, prints the report and writes nothing', async () => {
    const root = await project({ 'agent.hcl': 'cache {}\ntemplate {\n  contents = "{{ key \\"a\\" }}"\n  destination = "x"\n}\n' });
    const result = await runCli(['convert', '--from', 'vault-agent', 'agent.hcl', '--check'], { cwd: root });
    expect(result.code).toBe(8);
    expect(result.stdout.split('\n').slice(0, 2)).toEqual([
      `${root}/agent.hcl:1:1: cache: the sidecar is not a caching proxy: applications read the rendered files; drop it`,
      expect.stringMatching(new RegExp(`^${root}/agent\\.hcl:3:18: key: Consul KV`)),
    ]);
    expect(logged(result.stderr).code).toBe('SIDECAR_ERR_CONVERT_INCOMPLETE');
    expect(await readdir(root)).toEqual(['agent.hcl']);
  });

  it.each([
    [
      'a malformed config, with file:line:col',
      { 'c.hcl': 'template {\n  destination = \n}\n' },
      ['c.hcl', '--out', 'o'],
      'SIDECAR_ERR_CONFIG_SYNTAX',
      /c\.hcl:2:3: syntax error/,
    ],
    [
      'a missing template source',
      { 'c.hcl': 'template {\n  source = "nope.tpl"\n  destination = "x"\n}\n' },
      ['c.hcl', '--out', 'o'],
      'SIDECAR_ERR_TEMPLATE_READ',
      /c\.hcl:2:3: cannot read template source .*nope\.tpl: no such file/,
    ],
    ['a config that is a directory', { 'c.hcl': '' }, ['.', '--out', 'o'], 'SIDECAR_ERR_CONFIG_READ', /cannot read config/],
    ['no --out without --check', { 'c.hcl': '' }, ['c.hcl'], 'SIDECAR_ERR_USAGE', /needs --out/],
    ['an --out that is not empty', { 'c.hcl': '' }, ['c.hcl', '--out', '.'], 'SIDECAR_ERR_USAGE', /is not empty/],
  ])('exits 2 for %s', async (_what, files, args, code, message) => {
    const root = await project(files);
    const result = await runCli(['convert', '--from', 'consul-template', ...args], { cwd: root });
    expect(result.code).toBe(2);
    expect(logged(result.stderr)).toMatchObject({ code, message: expect.stringMatching(message) as unknown });
  });

  it('exits 2 for an unknown --from', async () => {
    const root = await project({ 'c.hcl': '' });
    await mkdir(join(root, 'o'));
    const result = await runCli(['convert', '--from', 'nomad', 'c.hcl', '--out', 'o'], { cwd: root });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/Allowed choices are consul-template, vault-agent/);
  });
});
