import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { REPO_ROOT, removeDir } from '../support/dirs.js';
import { makeProject, type Project } from '../support/project.js';

let project: Project | undefined;
afterEach(async () => {
  await removeDir(project?.root);
  project = undefined;
});

describe('command line', () => {
  it('prints help and version and exits 0', async () => {
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    for (const command of ['once', 'run', 'validate']) expect(help.stdout).toContain(command);
    expect(help.stdout).toContain('--log-format');
    const version = await runCli(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toBe((JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version);
    const onceHelp = await runCli(['once', '--help']);
    expect(onceHelp.stdout).toContain('--dry-run');
    expect(onceHelp.stdout).toContain('--timeout');
  });

  it('exits 2 on usage errors', async () => {
    expect((await runCli(['frobnicate'])).code).toBe(2);
    expect((await runCli(['once'])).code).toBe(2); // missing -c
    expect((await runCli(['once', '-c', 'x.hcl', '--timeout', 'soon'])).code).toBe(2);
    expect((await runCli(['--log-format', 'xml', 'validate', '-c', 'x.hcl'])).code).toBe(2);
  });

  it('refuses a --timeout past its bound instead of arming a timer that never fires (issue 21, class 6)', async () => {
    const huge = await runCli(['once', '-c', 'x.hcl', '--timeout', `${'9'.repeat(400)}s`]);
    expect(huge.code).toBe(2);
    expect(huge.stderr).toContain('must be at most 8760h');
    expect((await runCli(['once', '-c', 'x.hcl', '--timeout', '9000h'])).code).toBe(2);
  });

  it('validates a good config and its templates without touching backends', async () => {
    project = await makeProject({
      config: 'backend "file" "local" {\n  path = "does-not-exist-yet.json"\n}\ntemplate {\n  source = "templates/a.hbs"\n  destination = "@OUT@/a"\n}\n',
      templates: { 'a.hbs': '{{secret "local:x"}}' },
    });
    const result = await runCli(['validate', '-c', project.config]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${project.config}: valid (1 backends, 1 templates)\n`);
  });

  it('exits 2 on a config error, naming file, line and column', async () => {
    project = await makeProject({ config: 'backend "file" "local" {\n  path = "s.json"\n  fromat = "json"\n}\n' });
    for (const command of ['validate', 'once', 'run']) {
      const result = await runCli([command, '-c', project.config]);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(`${project.config}:3:3: unknown key \\"fromat\\" in backend.file.local`);
    }
    const missing = await runCli(['validate', '-c', join(project.root, 'nope.hcl')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('SIDECAR_ERR_CONFIG_READ');
  });

  it('exits 2 on a template syntax error, naming template and line, and on an unknown backend in a template', async () => {
    project = await makeProject({
      config: 'backend "file" "local" {\n  path = "s.json"\n}\ntemplate {\n  source = "templates/a.hbs"\n  destination = "@OUT@/a"\n}\n',
      templates: { 'a.hbs': 'line 1\nline 2 {{secret "local:x"}\nline 3\n' },
    });
    const syntax = await runCli(['validate', '-c', project.config]);
    expect(syntax.code).toBe(2);
    expect(syntax.stderr).toMatch(/template \\"templates\/a\.hbs\\" line 2: /);
    await project.write('templates/a.hbs', 'ok\n\nx={{secret "vualt:secret/app#x"}}\n');
    const unknown = await runCli(['once', '-c', project.config]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain(
      'template \\"templates/a.hbs\\" line 3: \\"vualt:secret/app#x\\" names backend \\"vualt\\", which is not configured (configured: \\"local\\")',
    );
  });

  it('writes pretty logs when asked', async () => {
    project = await makeProject({ config: 'backend "file" "local" {\n  path = "s.json"\n  fromat = "json"\n}\n' });
    const result = await runCli(['--log-format', 'pretty', 'validate', '-c', project.config]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/ERROR: .*sidecar\.hcl:3:3: unknown key "fromat"/);
  });
});
