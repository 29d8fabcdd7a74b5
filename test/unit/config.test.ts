import { describe, expect, it } from 'vitest';
import { parseConfig, loadConfig } from '../../src/config/load-config.js';
import { parseDuration } from '../../src/config/duration.js';
import { SidecarError } from '../../src/errors.js';

const FULL_HCL = `
log_level  = "debug"
log_format = "pretty"
env_allow  = ["POD_NAME", "APP_*"]

backend "file" "local" {
  path = "./secrets.json"   # relative to this file
}
backend "file" "k8s" {
  path          = "/var/run/secrets/app"
  format        = "directory"
  poll_interval = "2s"
}

retry {
  attempts    = 5
  backoff     = "100ms"
  max_backoff = "30s"
}

wait {
  min = "2s"
  max = "10s"
}

template {
  source      = "templates/app.env.hbs"
  destination = "/dev/shm/app/app.env"
  perms       = "0640"
  user        = 1000
  group       = "nogroup"
  create_dest_dirs     = false
  error_on_missing_key = false
  allow_non_tmpfs      = true
}

template {
  contents = <<-EOT
    user={{secret "local:db#user"}}
    literal=$\${not_interpolated}
    EOT
  destination = "out/b.conf"
  wait {
    min = "1s"
  }
}
`;

async function configError(source: string, file = '/etc/sidecar/sidecar.hcl'): Promise<SidecarError> {
  try {
    await parseConfig(source, file);
  } catch (error) {
    expect(error).toBeInstanceOf(SidecarError);
    return error as SidecarError;
  }
  throw new Error('expected the config to be rejected');
}

describe('config', () => {
  it('resolves a full HCL config into a frozen, typed object with defaults and absolute paths', async () => {
    const config = await parseConfig(FULL_HCL, '/etc/sidecar/sidecar.hcl');
    expect(config.logLevel).toBe('debug');
    expect(config.logFormat).toBe('pretty');
    expect(config.envAllow).toEqual(['POD_NAME', 'APP_*']);
    expect(config.retry).toEqual({ attempts: 5, backoffMs: 100, maxBackoffMs: 30_000 });
    expect(config.wait).toEqual({ minMs: 2000, maxMs: 10_000 });
    expect(config.backends).toEqual([
      { type: 'file', name: 'local', path: '/etc/sidecar/secrets.json', format: undefined, pollIntervalMs: undefined },
      { type: 'file', name: 'k8s', path: '/var/run/secrets/app', format: 'directory', pollIntervalMs: 2000 },
    ]);
    const [first, second] = config.templates;
    expect(first).toMatchObject({
      name: 'templates/app.env.hbs',
      source: '/etc/sidecar/templates/app.env.hbs',
      destination: '/dev/shm/app/app.env',
      perms: 0o640,
      user: 1000,
      group: 'nogroup',
      createDestDirs: false,
      errorOnMissingKey: false,
      allowNonTmpfs: true,
      wait: { minMs: 2000, maxMs: 10_000 },
    });
    expect(second).toMatchObject({
      name: 'template[1] (contents)',
      contents: 'user={{secret "local:db#user"}}\nliteral=${not_interpolated}\n',
      destination: '/etc/sidecar/out/b.conf',
      perms: 0o600,
      createDestDirs: true,
      errorOnMissingKey: true,
      allowNonTmpfs: false,
      wait: { minMs: 1000, maxMs: 10_000 },
    });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.templates)).toBe(true);
    expect(Object.isFrozen(config.templates[0])).toBe(true);
    expect(() => {
      (config as { logLevel: string }).logLevel = 'info';
    }).toThrow(TypeError);
  });

  it('reads the same structure from a .json file', async () => {
    const json = JSON.stringify({
      log_level: 'debug',
      backend: { file: { local: { path: './secrets.json' } } },
      wait: { min: '2s', max: '10s' },
      template: [{ source: 'a.hbs', destination: '/dev/shm/a' }],
    });
    const config = await parseConfig(json, '/etc/sidecar/sidecar.json');
    expect(config.backends[0]).toMatchObject({ type: 'file', path: '/etc/sidecar/secrets.json' });
    expect(config.wait).toEqual({ minMs: 2000, maxMs: 10_000 });
    expect(config.templates[0]?.destination).toBe('/dev/shm/a');
    // A single template object is accepted where HCL would give a list.
    const single = await parseConfig(JSON.stringify({ template: { contents: 'x', destination: '/dev/shm/x' } }), '/c.json');
    expect(single.templates).toHaveLength(1);
  });

  it('applies defaults when the config is nearly empty', async () => {
    const config = await parseConfig('', '/c.hcl');
    expect(config).toMatchObject({
      logLevel: 'info',
      logFormat: 'json',
      wait: { minMs: 0, maxMs: 0 },
      retry: { attempts: 0, backoffMs: 250, maxBackoffMs: 60_000 },
    });
    expect(config.templates).toEqual([]);
  });

  it('names file, line and column of an unknown key', async () => {
    const error = await configError('template {\n  destination = "/dev/shm/x"\n  contents = "x"\n  destinaton = "typo"\n}\n');
    expect(error.code).toBe('SIDECAR_ERR_CONFIG_INVALID');
    expect(error.message).toContain('/etc/sidecar/sidecar.hcl:4:3: unknown key "destinaton" in template[0]');
  });

  it('names the position and option path of a bad value', async () => {
    const error = await configError('wait {\n  min = "2 seconds"\n}\n');
    expect(error.message).toContain('sidecar.hcl:2:9: wait.min: "2 seconds" is not a duration');
  });

  it('refuses perms written as a number, which HCL would read as decimal', async () => {
    const error = await configError('template {\n  contents = "x"\n  destination = "/dev/shm/x"\n  perms = 0600\n}\n');
    expect(error.message).toMatch(/sidecar\.hcl:4:\d+: template\[0\]\.perms: perms must be an octal string such as "0600"/);
  });

  it('reports a missing required option at its block', async () => {
    const error = await configError('\ntemplate {\n  contents = "x"\n}\n');
    expect(error.message).toContain('sidecar.hcl:2:1: template[0].destination: required option "destination" is missing');
  });

  it('reports HCL syntax errors with their position', async () => {
    const error = await configError('backend "file" "a" {\n  path = "x"\n');
    expect(error.code).toBe('SIDECAR_ERR_CONFIG_SYNTAX');
    expect(error.message).toMatch(/^\/etc\/sidecar\/sidecar\.hcl:\d+:\d+: syntax error/);
  });

  it('rejects interpolation, variables and expressions, which a config of data does not evaluate', async () => {
    expect((await configError('log_level = "${var.level}"\n')).message).toContain('sidecar.hcl:1:14: interpolation');
    expect((await configError('log_level = var.level\n')).message).toContain('sidecar.hcl:1:13: an unquoted word here reads as a variable');
    expect((await configError('retry {\n  attempts = 1 + 2\n}\n')).message).toContain('sidecar.hcl:2:14: operators are not supported');
  });

  it('rejects duplicate attributes, blocks and backend names', async () => {
    expect((await configError('log_level = "info"\nlog_level = "debug"\n')).message).toContain('sidecar.hcl:2:1: "log_level" is already defined');
    expect((await configError('backend "file" "a" {\n path = "x"\n}\nbackend "file" "a" {\n path = "y"\n}\n')).message).toContain(
      'sidecar.hcl:4:16: duplicate block backend "file" "a"',
    );
    expect((await configError('wait {\n}\nwait {\n}\n')).message).toContain('sidecar.hcl:3:1: wait[1]: block "wait" may appear only once');
  });

  it('rejects an unknown backend type, listing the known ones', async () => {
    const error = await configError('backend "vualt" "main" {\n}\n');
    expect(error.message).toContain(
      'sidecar.hcl:1:9: unknown key "vualt" in backend types (known: file, vault, aws_secrets_manager, aws_ssm, azure_key_vault, ejson, gcp_secret_manager)',
    );
  });

  it('rejects two templates writing the same destination, and a template with both source and contents', async () => {
    const twice = 'template {\n contents = "a"\n destination = "/dev/shm/x"\n}\ntemplate {\n contents = "b"\n destination = "/dev/shm/x"\n}\n';
    expect((await configError(twice)).message).toContain('sidecar.hcl:7:16: template[1].destination: /dev/shm/x is also the destination of template[0]');
    const both = 'template {\n source = "a.hbs"\n contents = "b"\n destination = "/dev/shm/x"\n}\n';
    expect((await configError(both)).message).toContain('template[0]: a template needs exactly one of "source" or "contents"');
  });

  it('reports JSON errors with line and column too', async () => {
    const syntax = await configError('{\n  "log_level": "info",\n}\n', '/c.json');
    expect(syntax.code).toBe('SIDECAR_ERR_CONFIG_SYNTAX');
    expect(syntax.message).toMatch(/^\/c\.json:3:1: invalid JSON/);
    const unknown = await configError('{\n  "template": [{\n    "contents": "x", "destination": "/dev/shm/x", "prems": "0600"\n  }]\n}\n', '/c.json');
    expect(unknown.message).toContain('/c.json:3:51: unknown key "prems" in template[0]');
  });

  it('names the file when it cannot be read', async () => {
    await expect(loadConfig('/nonexistent/sidecar.hcl')).rejects.toMatchObject({
      code: 'SIDECAR_ERR_CONFIG_READ',
      message: expect.stringContaining('/nonexistent/sidecar.hcl') as unknown,
    });
  });
});

describe('durations', () => {
  it('reads Go-style durations and refuses anything else', () => {
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('10s')).toBe(10_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('0')).toBe(0);
    for (const bad of ['', '10', '1 hour', '5x', '-1s', 's']) expect(parseDuration(bad)).toBeUndefined();
  });
});

describe('vault backend config', () => {
  it('resolves each auth method with its defaults, and defaults to VAULT_TOKEN', async () => {
    const auth = async (block: string) => {
      const config = await parseConfig(`backend "vault" "v" {\n${block}\n}\n`, '/etc/s/sidecar.hcl');
      return (config.backends[0] as { auth: unknown }).auth;
    };
    expect(await auth('')).toEqual({ method: 'token', token: undefined, tokenFile: undefined });
    expect(await auth('auth "token" {\n token_file = "tok"\n}')).toEqual({ method: 'token', token: undefined, tokenFile: '/etc/s/tok' });
    expect(await auth('auth "approle" {\n role_id = "r"\n secret_id_file = "sid"\n}')).toEqual({
      method: 'approle',
      mount: 'approle',
      roleId: 'r',
      roleIdFile: undefined,
      secretIdFile: '/etc/s/sid',
    });
    expect(await auth('auth "jwt" {\n role = "r"\n jwt_file = "/run/jwt"\n mount = "oidc"\n}')).toEqual({
      method: 'jwt',
      mount: 'oidc',
      role: 'r',
      jwtFile: '/run/jwt',
    });
    expect(await auth('auth "kubernetes" {\n role = "r"\n}')).toEqual({
      method: 'kubernetes',
      mount: 'kubernetes',
      role: 'r',
      jwtFile: '/var/run/secrets/kubernetes.io/serviceaccount/token',
    });
  });

  it('takes a lease renewal threshold between 0.1 and 0.95, two thirds by default', async () => {
    const threshold = async (line: string) =>
      ((await parseConfig(`backend "vault" "v" {\n${line}\n}\n`, '/c.hcl')).backends[0] as { leaseRenewalThreshold: number }).leaseRenewalThreshold;
    expect(await threshold('')).toBeCloseTo(2 / 3);
    expect(await threshold('lease_renewal_threshold = 0.5')).toBe(0.5);
    await expect(threshold('lease_renewal_threshold = 1')).rejects.toThrow(/lease_renewal_threshold/);
  });

  it('takes request_timeout for AWS and Azure backends, 30 s by default, and refuses 0', async () => {
    const timeout = async (block: string, line: string) =>
      ((await parseConfig(`backend ${block} {\n${line}\n}\n`, '/c.hcl')).backends[0] as { requestTimeoutMs: number }).requestTimeoutMs;
    const azure = 'vault_url = "https://kv.vault.azure.net"';
    expect(await timeout('"aws_secrets_manager" "sm"', '')).toBe(30_000);
    expect(await timeout('"aws_ssm" "p"', 'request_timeout = "5s"')).toBe(5_000);
    expect(await timeout('"azure_key_vault" "kv"', azure)).toBe(30_000);
    expect(await timeout('"azure_key_vault" "kv"', `${azure}\nrequest_timeout = "2s"`)).toBe(2_000);
    await expect(timeout('"aws_secrets_manager" "sm"', 'request_timeout = "0s"')).rejects.toThrow(/request_timeout: must be at least 100ms/);
  });

  it('rejects two auth methods, an approle without a role id, and a bad address', async () => {
    await expect(parseConfig('backend "vault" "v" {\n auth "token" {\n }\n auth "approle" {\n role_id = "r"\n }\n}\n', '/c.hcl')).rejects.toThrow(
      /backend\.vault\.v\.auth: one auth method per backend \(found token, approle\)/,
    );
    await expect(parseConfig('backend "vault" "v" {\n auth "approle" {\n secret_id_file = "s"\n }\n}\n', '/c.hcl')).rejects.toThrow(
      /approle needs exactly one of "role_id" or "role_id_file"/,
    );
    await expect(parseConfig('backend "vault" "v" {\n address = "vault:8200"\n}\n', '/c.hcl')).rejects.toThrow(
      /\/c\.hcl:2:12: backend\.vault\.v\.address: expected an http/,
    );
  });
});
