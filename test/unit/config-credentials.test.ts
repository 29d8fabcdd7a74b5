import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SIDECAR_CREDENTIAL_ENV } from '../../src/config/credential-env.js';
import { matchesEnvPattern } from '../../src/config/env-pattern.js';
import { parseConfig } from '../../src/config/load-config.js';
import type { SidecarError } from '../../src/errors.js';
import { childEnvironment } from '../../src/reload/child-env.js';
import { callHttpHook } from '../../src/reload/http-hook.js';
import { redactUrl } from '../../src/reload/redact-url.js';
import { createReloadTarget } from '../../src/reload/reload-target.js';
import { allowedEnvironment, withoutCredentials } from '../../src/runner/environment.js';
import { makeTmpfsDir, removeDir } from '../support/dirs.js';
import { configError as loadError } from '../support/config-error.js';

const FILE = '/etc/sidecar/sidecar.hcl';

const configError = (source: string, file = FILE) => loadError(source, file);

/** Every variable issue 21 names as one of the sidecar's own credentials. */
const CREDENTIAL_NAMES = [
  'VAULT_TOKEN',
  'VAULT_CLIENT_KEY',
  'VAULT_CLIENT_CERT',
  'VAULT_CACERT',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN',
  'AZURE_CLIENT_SECRET',
  'AZURE_CLIENT_CERTIFICATE_PASSWORD',
  'AZURE_CLIENT_CERTIFICATE_PATH',
  'AZURE_FEDERATED_TOKEN_FILE',
  'IDENTITY_HEADER',
  'MSI_SECRET',
  'EJSON_KEYDIR',
  'GOOGLE_APPLICATION_CREDENTIALS',
  'KUBECONFIG',
];

describe('one credential deny list', () => {
  const source = `
env_allow = ["V*", "APP_*", "KUBECONFIG"]
listener {
  address           = "127.0.0.1:9102"
  refresh_token_env = "APP_REFRESH_TOKEN"
}
exec {
  command = ["app"]
  env {
    allow = ["PATH", "APP_*", "AWS_*"]
  }
}
`;
  const env = Object.fromEntries([...CREDENTIAL_NAMES, 'APP_REFRESH_TOKEN', 'APP_MODE', 'PATH', 'VERSION'].map((name) => [name, `value-of-${name}`]));

  it('holds every credential variable the backends read, and the variable refresh_token_env names', async () => {
    const config = await parseConfig(source, FILE);
    for (const name of [...CREDENTIAL_NAMES, 'APP_REFRESH_TOKEN']) expect(matchesEnvPattern(name, config.credentialEnv), name).toBe(true);
    expect(config.exec?.env.deny).toEqual(expect.arrayContaining([...config.credentialEnv]));
    expect(matchesEnvPattern('APP_MODE', config.credentialEnv)).toBe(false);
  });

  it('keeps them from the child under a broad allow prefix', async () => {
    const config = await parseConfig(source, FILE);
    const policy = config.exec?.env;
    if (!policy) throw new Error('no exec block');
    expect(childEnvironment(env, policy, new Map())).toEqual({ PATH: env['PATH'], APP_MODE: env['APP_MODE'] });
  });

  it('keeps them from templates under a broad env_allow prefix, except a name env_allow gives exactly', async () => {
    const config = await parseConfig(source, FILE);
    expect(allowedEnvironment(env, config.envAllow, config.credentialEnv)).toEqual({
      VERSION: env['VERSION'],
      APP_MODE: env['APP_MODE'],
      KUBECONFIG: env['KUBECONFIG'],
    });
  });

  it('keeps them from command hooks, whatever the config names as its refresh token', async () => {
    const dir = await makeTmpfsDir('hook-env-');
    try {
      const out = join(dir, 'env.json');
      const config = await parseConfig(
        `listener {\n  address = "127.0.0.1:9102"\n  refresh_token_env = "TZ"\n}\nnotify "dump" {\n  command = ${JSON.stringify([process.execPath, '-e', `require('fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify(process.env))`])}\n}\n`,
        FILE,
      );
      const notify = config.notify[0];
      if (!notify) throw new Error('no notify block');
      const target = createReloadTarget(notify, {
        env: withoutCredentials({ PATH: process.env['PATH'], TZ: 'refresh-token-in-tz', VAULT_TOKEN: 'hvs.hook' }, config.credentialEnv),
      });
      await target.fire();
      const seen = JSON.parse(await readFile(out, 'utf8')) as Record<string, string>;
      expect(seen['TZ']).toBeUndefined();
      expect(seen['VAULT_TOKEN']).toBeUndefined();
      expect(seen['PATH']).toBe(process.env['PATH']);
    } finally {
      await removeDir(dir);
    }
  });

  it('is one list: SIDECAR_CREDENTIAL_ENV is what the config starts from', async () => {
    const config = await parseConfig('', FILE);
    expect(config.credentialEnv).toEqual(SIDECAR_CREDENTIAL_ENV);
  });

  it('refuses "*" as an env_allow or env.allow entry', async () => {
    expect((await configError('env_allow = ["*"]\n')).message).toMatch(/^\/etc\/sidecar\/sidecar\.hcl:1:14: env_allow\[0\]: /);
    expect((await configError('exec {\n  command = ["a"]\n  env {\n    allow = ["*"]\n  }\n}\n')).message).toMatch(
      /^\/etc\/sidecar\/sidecar\.hcl:4:14: exec\.env\.allow\[0\]: /,
    );
  });
});

describe('URLs with credentials', () => {
  const notify = (url: string) => `notify "prom" {\n  http {\n    url = ${JSON.stringify(url)}\n  }\n}\n`;

  it.each([
    ['user and password', 'https://reload:pa55-in-url@app.internal/-/reload'],
    ['a user only', 'http://pa55-in-url@127.0.0.1:9090/-/reload'],
    ['a password only', 'http://:pa55-in-url@127.0.0.1:9090/'],
    ['an IPv6 host', 'http://admin:pa55-in-url@[::1]:9090/-/reload'],
  ])('refuses a notify URL with %s at its position, without repeating it', async (_what, url) => {
    const error = await configError(notify(url));
    expect(error.code).toBe('SIDECAR_ERR_CONFIG_INVALID');
    expect(error.message).toMatch(/^\/etc\/sidecar\/sidecar\.hcl:3:11: notify\.prom\.http\.url: a URL may not carry credentials/);
    expect(error.message).not.toContain('pa55-in-url');
  });

  it('refuses credentials in a Vault address, an AWS endpoint and an Azure vault URL too', async () => {
    const vault = await configError('backend "vault" "main" {\n  address = "https://u:pa55-in-url@vault:8200"\n}\n');
    expect(vault.message).toMatch(/sidecar\.hcl:2:13: backend\.vault\.main\.address: a URL may not carry credentials/);
    const aws = await configError('backend "aws_ssm" "p" {\n  endpoint = "http://u:pa55-in-url@127.0.0.1:5000"\n}\n');
    expect(aws.message).toMatch(/sidecar\.hcl:2:14: backend\.aws_ssm\.p\.endpoint: a URL may not carry credentials/);
    const azure = await configError('backend "azure_key_vault" "kv" {\n  vault_url = "https://u:pa55-in-url@kv.vault.azure.net"\n}\n');
    expect(azure.message).toMatch(/sidecar\.hcl:2:15: backend\.azure_key_vault\.kv\.vault_url: a URL may not carry credentials/);
    for (const e of [vault, aws, azure]) expect(e.message).not.toContain('pa55-in-url');
  });

  it('accepts a query or a fragment, and shows neither', async () => {
    const config = await parseConfig(notify('http://127.0.0.1:9090/-/reload?token=q-secret-123#frag-secret'), FILE);
    expect(config.notify[0]?.action).toMatchObject({ url: 'http://127.0.0.1:9090/-/reload?token=q-secret-123#frag-secret' });
    expect(redactUrl('http://127.0.0.1:9090/-/reload?token=q-secret-123#frag-secret')).toBe('http://127.0.0.1:9090/-/reload?[redacted]#[redacted]');
    expect(redactUrl('http://[::1]:9090/a?b')).toBe('http://[::1]:9090/a?[redacted]');
    expect(redactUrl('http://127.0.0.1:9090/-/reload')).toBe('http://127.0.0.1:9090/-/reload');
  });

  it('shows no token carried in the path (Slack, Discord, Teams webhooks), and keeps ordinary path words', () => {
    expect(redactUrl('https://hooks.slack.com/services/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')).toBe(
      'https://hooks.slack.com/services/T0123ABCD/B0123ABCD/[redacted]',
    );
    expect(redactUrl('https://discord.com/api/webhooks/123456789012345678/AbCdEf-GhIjKl_MnOpQr1234567890abcdefGHIJKL')).toBe(
      'https://discord.com/api/webhooks/123456789012345678/[redacted]',
    );
    expect(
      redactUrl(
        'https://x.webhook.office.com/webhookb2/6f1c8a52-9d3e-4b7a-8c21-5e0f9a7b3d14@0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d/IncomingWebhook/0123456789abcdef0123456789abcdef/9a8b7c6d',
      ),
    ).toBe('https://x.webhook.office.com/webhookb2/[redacted]/IncomingWebhook/[redacted]/9a8b7c6d');
    expect(redactUrl('http://127.0.0.1:8080/api/v1/apps/my-service-name/reload')).toBe('http://127.0.0.1:8080/api/v1/apps/my-service-name/reload');
  });
});

describe('http notify hook', () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    server = undefined;
  });
  async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
    server = createServer(handler);
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/-/reload?token=q-secret-123`;
  }
  const hook = (url: string, timeoutMs = 2000) => ({ url, method: 'POST' as const, headers: {}, timeoutMs });
  async function failure(url: string, timeoutMs?: number): Promise<SidecarError> {
    try {
      await callHttpHook(hook(url, timeoutMs), 'notify "p"');
    } catch (error) {
      return error as SidecarError;
    }
    throw new Error('expected the hook to fail');
  }

  it('redacts the query in every error: a failed status, a timeout, a refused connection', async () => {
    const status = await failure(await serve((_req, res) => res.writeHead(500).end()));
    expect(status.message).toMatch(/^notify "p": POST http:\/\/127\.0\.0\.1:\d+\/-\/reload\?\[redacted\] answered 500$/);
    const timeout = await failure(await serve(() => undefined), 100);
    expect(timeout).toMatchObject({ code: 'SIDECAR_ERR_RELOAD_TIMEOUT' });
    expect(timeout.message).toMatch(/\/-\/reload\?\[redacted\] did not answer within 100ms$/);
    const url = await serve(() => undefined);
    await new Promise((resolve) => server?.close(resolve));
    server = undefined;
    const refused = await failure(url);
    expect(refused.message).toMatch(/\/-\/reload\?\[redacted\] failed \(ECONNREFUSED\)$/);
    for (const e of [status, timeout, refused]) expect(e.message).not.toContain('q-secret-123');
  });

  it("redacts the query in the target's success detail", async () => {
    const url = await serve((_req, res) => res.writeHead(204).end());
    const target = createReloadTarget({ name: 'p', action: { kind: 'http', ...hook(url) } }, { env: {} });
    expect(await target.fire()).toMatch(/^POST http:\/\/127\.0\.0\.1:\d+\/-\/reload\?\[redacted\]: 204$/);
  });

  it("waits past AbortSignal.timeout's range (the deadline is a safe timer)", async () => {
    const url = await serve((_req, res) => res.writeHead(204).end());
    expect(await callHttpHook(hook(url, 2 ** 32 + 1), 'notify "p"')).toBe(204);
  });
});

describe('unquoted values in HCL', () => {
  it('says where an unquoted token is and what to do, without quoting it back', async () => {
    for (const token of ['AKIAIOSFODNN7EXAMPLE', 'hvs.CAESIabcdef-ghi_123', 'tok3n[0]']) {
      const error = await configError(`backend "vault" "main" {\n  auth "token" {\n    token = ${token}\n  }\n}\n`);
      expect(error.code).toBe('SIDECAR_ERR_CONFIG_SYNTAX');
      expect(error.message).toBe(
        '/etc/sidecar/sidecar.hcl:3:13: an unquoted word here reads as a variable; the config takes literal values only: put the value in double quotes',
      );
    }
  });

  it('points a syntax error at the stray token, not at the top of the file, naming only its punctuation', async () => {
    const error = await configError('backend "vault" "main" {\n  auth "token" {\n    token = s3cr3t:v4lue@x\n  }\n}\n');
    expect(error.message).toBe('/etc/sidecar/sidecar.hcl:3:19: syntax error: unexpected ":"');
  });

  it('does not quote an out-of-range number back either', async () => {
    const error = await configError(`retry {\n  attempts = 9${'9'.repeat(400)}\n}\n`);
    expect(error.message).toBe('/etc/sidecar/sidecar.hcl:2:14: this number is out of range');
  });
});
