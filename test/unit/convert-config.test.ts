import { execFileSync } from 'node:child_process';
import { mkdir, readFile, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.js';
import type { ResolvedConfig } from '../../src/config/types.js';
import { convertPeerConfig, safeName, type ConvertResult } from '../../src/convert/convert-peer-config.js';
import { translateGoTemplate } from '../../src/convert/go-template/translate.js';
import { hclString } from '../../src/convert/hcl-text.js';
import type { PeerKind } from '../../src/convert/peer-config.js';
import { SidecarError } from '../../src/errors.js';
import { canary } from '../support/canary.js';
import { makeTmpfsDir, removeDir } from '../support/dirs.js';

let dir: string | undefined;
afterEach(async () => {
  await removeDir(dir);
  dir = undefined;
});

/** Converts `config` (written as peer.hcl in a fresh directory, with `files` beside it); returns the result and our resolved config. */
async function convert(
  from: PeerKind,
  config: string,
  files: Record<string, string> = {},
): Promise<{ result: ConvertResult; text: string; resolved: ResolvedConfig; root: string }> {
  dir = await makeTmpfsDir('convert-unit-');
  const root = dir;
  await writeFile(join(root, 'peer.hcl'), config);
  for (const [name, text] of Object.entries(files)) {
    await mkdir(dirname(join(root, name)), { recursive: true });
    await writeFile(join(root, name), text);
  }
  const out = join(root, 'converted');
  const result = await convertPeerConfig({ from, configFile: 'peer.hcl', outDir: out, check: false, cwd: root, translate: translateGoTemplate });
  const text = await readFile(join(out, 'sidecar.hcl'), 'utf8');
  // The converted config must load in the sidecar as it is.
  const resolved = await parseConfig(text, join(out, 'sidecar.hcl'));
  return { result, text, resolved, root };
}

async function failure(from: PeerKind, config: string, files: Record<string, string> = {}, setup?: (root: string) => Promise<void>): Promise<SidecarError> {
  dir = await makeTmpfsDir('convert-unit-');
  const root = dir;
  await writeFile(join(root, 'peer.hcl'), config);
  for (const [name, text] of Object.entries(files)) await writeFile(join(root, name), text);
  await setup?.(root);
  const error = await convertPeerConfig({
    from,
    configFile: 'peer.hcl',
    outDir: join(root, 'converted'),
    check: false,
    cwd: root,
    translate: translateGoTemplate,
  }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SidecarError);
  return error as SidecarError;
}

const SIMPLE = '{{ with secret "secret/data/app" }}{{ .Data.data.password }}{{ end }}\n';

describe('convert: consul-template configs', () => {
  it('maps vault, ssl, retry, wait, exec, commands, perms and owners onto a config the sidecar loads', async () => {
    const { result, resolved, root } = await convert(
      'consul-template',
      `
log_level = "err"
pid_file = "ct.pid"
wait = "2s:10s"
vault {
  address = "https://vault.internal:8200"
  namespace = "team-a"
  vault_agent_token_file = "/run/agent/token"
  retry {
    attempts = 5
    backoff = "500ms"
    max_backoff = "30s"
  }
  ssl {
    verify = false
    ca_cert = "ca.pem"
    cert = "client.pem"
    key = "client.key"
    server_name = "vault.internal"
  }
}
exec {
  command = "node server.js --port 8080"
  reload_signal = "HUP"
  kill_timeout = "5s"
  env {
    pristine = false
    allowlist = ["PATH", "NODE_*"]
  }
}
template {
  source = "a.tpl"
  destination = "out/a.env"
  perms = 0640
  uid = 1000
  group = "app"
  command = ["nginx", "-s", "reload"]
  command_timeout = "10s"
  wait { min = "1s" }
}
template {
  source = "a.tpl"
  destination = "out/b.env"
  perms = "600"
  error_on_missing_key = true
  command = ["nginx", "-s", "reload"]
  command_timeout = "10s"
}
template {
  contents = ${hclString(SIMPLE)}
  destination = "/etc/app/c.txt"
}
`,
      { 'a.tpl': SIMPLE },
    );
    expect(result.findings).toEqual([]);
    expect(result.templates).toBe(3);
    expect(result.cleanTemplates).toBe(3);
    expect(resolved.logLevel).toBe('error');
    expect(resolved.pidFile).toBe(join(root, 'ct.pid'));
    expect(resolved.wait).toEqual({ minMs: 2000, maxMs: 10_000 });
    expect(resolved.retry).toMatchObject({ attempts: 5, backoffMs: 500, maxBackoffMs: 30_000 });
    const [backend] = resolved.backends;
    expect(backend).toMatchObject({
      type: 'vault',
      name: 'vault',
      address: 'https://vault.internal:8200',
      namespace: 'team-a',
      caCert: join(root, 'ca.pem'),
      clientCert: join(root, 'client.pem'),
      clientKey: join(root, 'client.key'),
      tlsServerName: 'vault.internal',
      tlsSkipVerify: true,
      auth: { method: 'token', tokenFile: '/run/agent/token' },
    });
    expect(resolved.exec).toMatchObject({
      command: ['/bin/sh', '-c', 'node server.js --port 8080'],
      reloadSignal: 'SIGHUP',
      killSignal: 'SIGINT',
      killTimeoutMs: 5000,
    });
    // One notify block for the command both templates share, run without a shell as consul-template runs a list.
    expect(resolved.notify.map((n) => n.name)).toEqual(['command-1']);
    expect(resolved.notify[0]).toMatchObject({ action: { kind: 'command', command: ['nginx', '-s', 'reload'], timeoutMs: 10_000 } });
    const [a, b, c] = resolved.templates;
    expect(a).toMatchObject({
      destination: join(root, 'out/a.env'),
      perms: 0o640,
      user: 1000,
      group: 'app',
      errorOnMissingKey: false,
      notify: ['exec', 'command-1'],
    });
    expect(a?.wait).toEqual({ minMs: 1000, maxMs: 4000 });
    expect(b).toMatchObject({ perms: 0o600, errorOnMissingKey: true, notify: ['exec', 'command-1'] });
    expect(c).toMatchObject({ destination: '/etc/app/c.txt', notify: ['exec'] });
  });

  it('never copies a token from the config: the report names the option, the converted files do not hold it', async () => {
    const token = canary('ct-token');
    const saToken = canary('ct-sa-token');
    const { result, text, root } = await convert(
      'consul-template',
      `vault {\n  token = "${token}"\n  k8s_service_account_token = "${saToken}"\n  k8s_auth_role_name = "app"\n}\ntemplate {\n  contents = "x"\n  destination = "x"\n}\n`,
    );
    expect(result.findings.map((f) => `${f.line}:${f.construct}`)).toEqual(['2:vault.token', '3:vault.k8s_service_account_token']);
    const written = [text, result.report, ...(await Promise.all(result.written.map((f) => readFile(join(root, 'converted', f), 'utf8'))))].join('\n');
    expect(written).not.toContain(token);
    expect(written).not.toContain(saToken);
    expect(text).toContain('auth "kubernetes"');
  });

  it('reports env with a computed name, whose names env_allow cannot list, and reads no name from plain text', async () => {
    const { result, resolved } = await convert('consul-template', 'template {\n  source = "a.tpl"\n  destination = "x"\n}\n', {
      'a.tpl': 'run: env "FROM_TEXT" sh\n{{ env (printf "%s_HOST" "DB") }}\n',
    });
    expect(resolved.envAllow).toEqual([]);
    expect(result.findings.map((f) => `${f.line}:${f.column}:${f.construct}`)).toEqual(['2:4:env with a computed name']);
  });

  it('opens env_allow to a variable read inside an and/or argument (through deferred)', async () => {
    const { resolved } = await convert('consul-template', 'template {\n  source = "a.tpl"\n  destination = "x"\n}\n', {
      'a.tpl': '{{ if or false (env "ONLY_HERE") }}y{{ end }}\n',
    });
    expect(resolved.envAllow).toEqual(['ONLY_HERE']);
  });

  it("does not open env_allow to the sidecar's own credential variables: a report line instead", async () => {
    const { result, resolved } = await convert('consul-template', 'template {\n  source = "a.tpl"\n  destination = "x"\n}\n', {
      'a.tpl': 'pod={{ env "POD_NAME" }}\ntoken={{ env "VAULT_TOKEN" }} key={{ env "AWS_SECRET_ACCESS_KEY" }}\n',
    });
    expect(resolved.envAllow).toEqual(['POD_NAME']);
    expect(result.findings.map((f) => `${f.file.endsWith('a.tpl')}:${f.line}:${f.column}:${f.construct}`)).toEqual([
      'true:2:10:env "VAULT_TOKEN"',
      'true:2:38:env "AWS_SECRET_ACCESS_KEY"',
    ]);
    expect(result.cleanTemplates).toBe(0);
  });

  it('reports every option it does not convert, at its line, including unknown ones', async () => {
    const { result } = await convert(
      'consul-template',
      `consul {\n  address = "x"\n}\nsyslog {\n  enabled = true\n}\ntemplate {\n  contents = "x"\n  destination = "x"\n  backup = true\n  sandbox_path = "/"\n  bogus_option = 1\n}\nexec {\n  command = ["app"]\n  env {\n    custom = ["A=B"]\n    denylist = ["*_TOKEN", "SECRET"]\n  }\n}\n`,
    );
    expect(result.findings.map((f) => `${f.line}:${f.column}:${f.construct}`)).toEqual([
      '1:1:consul',
      '4:1:syslog',
      '10:3:template.backup',
      '11:3:template.sandbox_path',
      '12:3:template.bogus_option',
      '17:5:exec.env.custom',
      '18:5:exec.env.denylist',
    ]);
    // The template had report lines: it is not counted as converted cleanly.
    expect(result.cleanTemplates).toBe(0);
  });

  it('moves a finding inside inline contents to its line and column in the config', async () => {
    const { result } = await convert(
      'consul-template',
      `template {\n  destination = "x"\n  contents = "ok {{ key \\"a\\" }}"\n}\ntemplate {\n  destination = "y"\n  contents = <<EOT\nfirst\n  {{ plugin "p" }}\nEOT\n}\n`,
    );
    expect(result.findings.map((f) => `${f.file.endsWith('peer.hcl')}:${f.line}:${f.column}:${f.construct}`)).toEqual(['true:3:21:key', 'true:9:6:plugin']);
  });
});

describe('convert: Vault Agent configs', () => {
  it('maps auto_auth approle, template_config, exec and env_template', async () => {
    const { result, resolved, root } = await convert(
      'vault-agent',
      `
vault {
  address = "http://127.0.0.1:8200"
  ca_cert = "/etc/ca.pem"
}
auto_auth {
  method "approle" {
    mount_path = "auth/approle-team"
    config = {
      role_id_file_path = "role_id"
      secret_id_file_path = "/run/secret_id"
      remove_secret_id_file_after_reading = false
    }
  }
}
template_config {
  static_secret_render_interval = "10m"
  max_connections_per_host = 4
  lease_renewal_threshold = 0.5
}
exec {
  command = ["./app", "serve"]
  restart_on_secret_changes = "always"
  restart_stop_signal = "SIGINT"
}
env_template "DB_PASSWORD" {
  contents = ${hclString(SIMPLE)}
  error_on_missing_key = true
}
template {
  source = "a.tpl"
  destination = "out/a"
}
`,
      { 'a.tpl': SIMPLE },
    );
    expect(result.findings).toEqual([]);
    expect(resolved.backends[0]).toMatchObject({
      address: 'http://127.0.0.1:8200',
      caCert: '/etc/ca.pem',
      staticRefreshMs: 600_000,
      maxConnections: 4,
      leaseRenewalThreshold: 0.5,
      auth: { method: 'approle', mount: 'approle-team', roleIdFile: join(root, 'role_id'), secretIdFile: '/run/secret_id' },
    });
    expect(resolved.exec).toMatchObject({ command: ['./app', 'serve'], killSignal: 'SIGINT' });
    expect(resolved.envTemplates.map((t) => t.name)).toEqual(['DB_PASSWORD']);
    // The agent's file templates do not restart its child.
    expect(resolved.templates[0]?.notify).toEqual([]);
  });

  it("turns a template's exec block and a one-word command into notify commands without a shell", async () => {
    const { resolved, result } = await convert(
      'vault-agent',
      'template {\n  contents = "x"\n  destination = "a"\n  exec {\n    command = ["/usr/bin/reload", "--all"]\n    timeout = "5s"\n  }\n}\ntemplate {\n  contents = "x"\n  destination = "b"\n  command = "reload"\n}\n',
    );
    expect(result.findings).toEqual([]);
    expect(resolved.notify.map((n) => n.action)).toEqual([
      { kind: 'command', command: ['/usr/bin/reload', '--all'], timeoutMs: 5000 },
      { kind: 'command', command: ['reload'], timeoutMs: 30_000 },
    ]);
    expect(resolved.templates.map((t) => t.notify)).toEqual([['command-1'], ['command-2']]);
  });

  it('reports an env_template without exec instead of writing a config the sidecar refuses', async () => {
    const { result, resolved } = await convert(
      'vault-agent',
      'env_template "A" {\n  contents = "x"\n}\ntemplate {\n  contents = "x"\n  destination = "x"\n}\n',
    );
    expect(result.findings.map((f) => `${f.line}:${f.construct}`)).toEqual(['1:env_template "A"']);
    expect(resolved.envTemplates).toEqual([]);
  });

  it.each([
    [
      'kubernetes',
      'role = "app"\n      token_path = "/var/run/sa/token"',
      { method: 'kubernetes', mount: 'kubernetes', role: 'app', jwtFile: '/var/run/sa/token' },
    ],
    ['jwt', 'role = "ci"\n      path = "/run/jwt"', { method: 'jwt', mount: 'jwt', role: 'ci', jwtFile: '/run/jwt' }],
    ['token_file', 'token_file_path = "/run/token"', { method: 'token', tokenFile: '/run/token' }],
  ])('maps the %s method', async (method, config, auth) => {
    const { resolved, result } = await convert(
      'vault-agent',
      `auto_auth {\n  method {\n    type = "${method}"\n    config = {\n      ${config}\n    }\n  }\n}\ntemplate {\n  contents = "x"\n  destination = "x"\n}\n`,
    );
    expect(result.findings).toEqual([]);
    expect(resolved.backends[0]).toMatchObject({ auth });
  });

  it('reports a method it has no counterpart for and its sink, naming options without their values', async () => {
    const secret = canary('aws-secret');
    const { result, text } = await convert(
      'vault-agent',
      `auto_auth {\n  method "aws" {\n    config = {\n      role = "x"\n      secret_key = "${secret}"\n    }\n  }\n  sink "file" {\n    config = { path = "/tmp/t" }\n  }\n}\ntemplate {\n  contents = "x"\n  destination = "x"\n}\n`,
    );
    expect(result.findings.map((f) => `${f.line}:${f.construct}`)).toEqual([
      '2:auto_auth method "aws"',
      '4:auto_auth.method "aws".config.role',
      '5:auto_auth.method "aws".config.secret_key',
      '8:auto_auth.sink',
    ]);
    expect(result.report + text).not.toContain(secret);
  });
});

describe('convert: JSON configs', () => {
  it('reads a Vault Agent config written as JSON, with positions in the report', async () => {
    dir = await makeTmpfsDir('convert-unit-');
    const root = dir;
    await writeFile(
      join(root, 'agent.json'),
      JSON.stringify(
        {
          auto_auth: [{ method: [{ type: 'approle', config: { role_id_file_path: 'role_id', remove_secret_id_file_after_reading: false } }] }],
          cache: {},
          template: [{ contents: 'x', destination: 'out/x', perms: '0640' }],
        },
        null,
        2,
      ),
    );
    const out = join(root, 'converted');
    const result = await convertPeerConfig({
      from: 'vault-agent',
      configFile: 'agent.json',
      outDir: out,
      check: false,
      cwd: root,
      translate: translateGoTemplate,
    });
    expect(result.findings.map((f) => `${f.line}:${f.construct}`)).toEqual(['15:cache']);
    const resolved = await parseConfig(await readFile(join(out, 'sidecar.hcl'), 'utf8'), join(out, 'sidecar.hcl'));
    expect(resolved.backends[0]).toMatchObject({ auth: { method: 'approle', roleIdFile: join(root, 'role_id') } });
    expect(resolved.templates[0]).toMatchObject({ perms: 0o640, destination: join(root, 'out/x') });
  });
});

describe('convert: hostile and broken input', () => {
  it('refuses a malformed config with file:line:col', async () => {
    const error = await failure('consul-template', 'template {\n  destination = "x"\n  contents = \n}\n');
    expect(error.code).toBe('SIDECAR_ERR_CONFIG_SYNTAX');
    expect(error.message).toMatch(/peer\.hcl:\d+:\d+: syntax error/);
  });

  it('refuses a wrong type at its position', async () => {
    const error = await failure('consul-template', 'template {\n  source = 5\n  destination = "x"\n}\n');
    expect(error.code).toBe('SIDECAR_ERR_CONFIG_INVALID');
    expect(error.message).toMatch(/peer\.hcl:2:3: template\.source: expected a string/);
  });

  it('refuses a config past 1 MiB and one nested past the limit, before building it', async () => {
    expect((await failure('consul-template', `# ${'x'.repeat(1024 * 1024 + 10)}\n`)).code).toBe('SIDECAR_ERR_CONFIG_READ');
    const deep = `${'a {\n'.repeat(200)}${'}\n'.repeat(200)}`;
    expect((await failure('consul-template', deep)).message).toMatch(/nested more than 64 levels/);
  });

  it('refuses template sources that are not regular files, or too large, without hanging', async () => {
    for (const source of ['/dev/zero', '/proc/self']) {
      const error = await failure('consul-template', `template {\n  source = "${source}"\n  destination = "x"\n}\n`);
      expect(error.code).toBe('SIDECAR_ERR_TEMPLATE_READ');
      expect(error.message).toMatch(/peer\.hcl:2:3: cannot read template source/);
    }
    const fifo = await failure('consul-template', 'template {\n  source = "pipe"\n  destination = "x"\n}\n', {}, (root) => {
      execFileSync('mkfifo', [join(root, 'pipe')]);
      return Promise.resolve();
    });
    expect(fifo.message).toMatch(/not a regular file/);
    const big = await failure('consul-template', 'template {\n  source = "big.tpl"\n  destination = "x"\n}\n', { 'big.tpl': 'x'.repeat(2 * 1024 * 1024) });
    expect(big.message).toMatch(/larger than 1 MiB/);
  });

  it('bounds what all the sources of one config total: many blocks naming one large file are refused before translating', async () => {
    const blocks = Array.from({ length: 20 }, (_, i) => `template {\n  source = "big.tpl"\n  destination = "out-${i}"\n}\n`).join('');
    const error = await failure('consul-template', blocks, { 'big.tpl': 'x'.repeat(1000 * 1000) });
    expect(error.code).toBe('SIDECAR_ERR_TEMPLATE_READ');
    expect(error.message).toMatch(/peer\.hcl:66:3: .*would total more than 16 MiB/);
    expect(await readdir(join(dir as string, 'converted')).catch(() => 'none')).toBe('none');
  });

  it('gives a coded error for an --out it cannot create (a dangling link, a file on the way)', async () => {
    dir = await makeTmpfsDir('convert-unit-');
    await writeFile(join(dir, 'peer.hcl'), 'template {\n  contents = "x"\n  destination = "out"\n}\n');
    await writeFile(join(dir, 'file'), 'x');
    await symlink(join(dir, 'nowhere', 'deeper'), join(dir, 'dangling'));
    for (const outDir of [join(dir, 'dangling'), join(dir, 'file', 'sub')]) {
      const error = await convertPeerConfig({
        from: 'consul-template',
        configFile: 'peer.hcl',
        outDir,
        check: false,
        cwd: dir,
        translate: translateGoTemplate,
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(SidecarError);
      expect((error as SidecarError).code).toBe('SIDECAR_ERR_OUTPUT_WRITE');
    }
  });

  it('writes only inside --out, and keeps destinations exactly, whatever they and the source names look like', async () => {
    const sourceName = '{{ .Data }}\n${HOME}%{x}"\\.tpl';
    const destination = '../../../etc/${HOME}/%{x}/"q"\\b\n';
    const { result, resolved, root } = await convert(
      'consul-template',
      `template {\n  source = ${hclString(`sub/${sourceName}`)}\n  destination = ${hclString(destination)}\n}\n`,
      { [`sub/${sourceName}`]: SIMPLE },
    );
    expect(resolved.templates[0]?.destination).toBe(resolve(root, destination));
    const out = join(root, 'converted');
    for (const file of result.written) expect(resolve(out, file).startsWith(`${out}/`)).toBe(true);
    expect(await readdir(join(out, 'templates'))).toEqual([`01-${safeName(sourceName)}.hbs`]);
    expect(safeName(sourceName)).toMatch(/^[A-Za-z0-9._-]+$/);
    expect(safeName('../../etc/passwd')).toBe('etc_passwd');
    expect(safeName('...')).toBe('template');
  });

  it('never gives a converted file more permission than the file it came from', async () => {
    dir = await makeTmpfsDir('convert-unit-');
    const root = dir;
    await writeFile(
      join(root, 'peer.hcl'),
      'template {\n  source = "private.tpl"\n  destination = "a"\n}\ntemplate {\n  source = "public.tpl"\n  destination = "b"\n}\n',
      { mode: 0o640 },
    );
    await writeFile(join(root, 'private.tpl'), SIMPLE, { mode: 0o600 });
    await writeFile(join(root, 'public.tpl'), SIMPLE, { mode: 0o755 });
    const out = join(root, 'converted');
    await convertPeerConfig({ from: 'consul-template', configFile: 'peer.hcl', outDir: out, check: false, cwd: root, translate: translateGoTemplate });
    const mode = async (name: string) => ((await stat(join(out, name))).mode & 0o777).toString(8);
    expect([
      await mode('sidecar.hcl'),
      await mode('conversion-report.txt'),
      await mode('templates/01-private.hbs'),
      await mode('templates/02-public.hbs'),
    ]).toEqual(['640', '640', '600', '644']);
  });

  it('refuses an --out that is not empty, and writes nothing with check', async () => {
    const error = await failure('consul-template', 'template {\n  contents = "x"\n  destination = "x"\n}\n', {}, async (root) => {
      await mkdir(join(root, 'converted'));
      await symlink('/etc/passwd', join(root, 'converted', 'sidecar.hcl'));
    });
    expect(error.code).toBe('SIDECAR_ERR_USAGE');
    dir = await makeTmpfsDir('convert-unit-');
    await writeFile(join(dir, 'peer.hcl'), 'template {\n  contents = "{{ key \\"x\\" }}"\n  destination = "x"\n}\n');
    const checked = await convertPeerConfig({
      from: 'consul-template',
      configFile: 'peer.hcl',
      outDir: join(dir, 'converted'),
      check: true,
      cwd: dir,
      translate: translateGoTemplate,
    });
    expect(checked.findings).toHaveLength(1);
    expect(checked.written).toEqual([]);
    expect(await readdir(dir)).toEqual(['peer.hcl']);
  });

  it('writes strings back so that our parser reads exactly the same text', async () => {
    for (const value of ['${HOME}', '$${x}', '%{ if }', 'a"b\\c', 'line\nbreak\ttab\r', '\u0001\u2028', '\\${x}', '%%{', '$$${x}', 'ünï 🎉']) {
      const parsed = await parseConfig(`pid_file = ${hclString(value)}\n`, '/tmp/x.hcl');
      expect(parsed.pidFile).toBe(resolve('/tmp', value));
    }
  });
});
