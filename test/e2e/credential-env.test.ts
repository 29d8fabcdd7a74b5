import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { canary } from '../support/canary.js';
import { Daemon, runCli } from '../support/cli.js';
import { REPO_ROOT, removeDir } from '../support/dirs.js';
import { expectNoSecrets } from '../support/leaks.js';
import { freePort } from '../support/openbao.js';
import { makeProject, type Project } from '../support/project.js';

let project: Project | undefined;
let daemon: Daemon | undefined;
afterEach(async () => {
  await daemon?.stop();
  await removeDir(project?.root);
  daemon = project = undefined;
});

const APP = join(REPO_ROOT, 'test/fixtures/signal-recorder.mjs');
type Ready = { ready: number; env: Record<string, string | null>; envNames: string[] };

/** The sidecar's own credential variables, each holding a fresh canary, plus the one the config names. */
function sidecarCredentials(): Record<string, string> {
  return {
    VAULT_TOKEN: canary('vault-token'),
    VAULT_CLIENT_KEY: canary('vault-client-key'),
    AWS_ACCESS_KEY_ID: canary('aws-key-id'),
    AWS_SECRET_ACCESS_KEY: canary('aws-secret'),
    AWS_SESSION_TOKEN: canary('aws-session'),
    AZURE_CLIENT_SECRET: canary('azure-secret'),
    AZURE_CLIENT_CERTIFICATE_PASSWORD: canary('azure-cert-pw'),
    AZURE_CLIENT_CERTIFICATE_PATH: canary('azure-cert-path'),
    AZURE_FEDERATED_TOKEN_FILE: canary('azure-federated'),
    IDENTITY_HEADER: canary('identity-header'),
    MSI_SECRET: canary('msi-secret'),
    EJSON_KEYDIR: canary('ejson-keydir'),
    GOOGLE_APPLICATION_CREDENTIALS: canary('google-credentials'),
    KUBECONFIG: canary('kubeconfig'),
    SECRETS_SIDECAR_SERVICE_ACCOUNT_DIR: canary('service-account-dir'),
    APP_REFRESH_TOKEN: canary('refresh-token'),
  };
}

async function execProject(allow: readonly string[]): Promise<Project> {
  const port = await freePort();
  const names = [...Object.keys(sidecarCredentials()), 'APP_MODE', 'APP_SA_TOKEN_PATH'];
  return makeProject({
    secrets: { tls: { cert: 'credential-env-cert-9f1e' } },
    config: `
listener {
  address           = "127.0.0.1:${port}"
  refresh_token_env = "APP_REFRESH_TOKEN"
}
backend "file" "local" {
  path = "secrets.json"
}
exec {
  command = ${JSON.stringify([process.execPath, APP, '--env', names.join(',')])}
  env {
    allow = ${JSON.stringify(allow)}
  }
}
template {
  contents    = "{{secret \\"local:tls#cert\\"}}"
  destination = "@OUT@/cert.pem"
}
`,
  });
}

describe("the sidecar's credentials and the supervised child", () => {
  it('keeps every credential variable, and the one refresh_token_env names, from the child even under a broad allow prefix', async () => {
    const credentials = sidecarCredentials();
    project = await execProject(['PATH', 'APP_*', 'VAULT_*', 'AWS_*', 'AZURE_*', 'IDENTITY_*', 'MSI_*', 'EJSON_*', 'GOOGLE_*', 'KUBE*']);
    // A pointer at the service-account token is held back whatever its name, "APP_*" allowed or not.
    const pointer = { APP_SA_TOKEN_PATH: '/var/run/secrets/kubernetes.io/serviceaccount/token' };
    daemon = new Daemon(['-c', project.config], { env: { ...credentials, ...pointer, APP_MODE: 'prod' } });
    const ready = (await daemon.waitForOutput((r) => r['ready'] !== undefined)) as Ready;
    expect(ready.env['APP_MODE']).toBe('prod');
    expect(ready.env['APP_SA_TOKEN_PATH']).toBeNull();
    for (const name of Object.keys(credentials)) expect(ready.env[name], name).toBeNull();
    expect(ready.envNames.filter((name) => name in credentials)).toEqual([]);
    expect((await daemon.stop()).code).toBe(0);
    expectNoSecrets(daemon.stderr + daemon.stdout, Object.values(credentials));
  });

  it('passes a credential variable that env.allow names exactly, and only that one', async () => {
    const credentials = sidecarCredentials();
    project = await execProject(['PATH', 'APP_*', 'APP_REFRESH_TOKEN', 'KUBECONFIG']);
    daemon = new Daemon(['-c', project.config], { env: { ...credentials, APP_MODE: 'prod' } });
    const ready = (await daemon.waitForOutput((r) => r['ready'] !== undefined)) as Ready;
    expect(ready.env['APP_REFRESH_TOKEN']).toBe(credentials.APP_REFRESH_TOKEN);
    expect(ready.env['KUBECONFIG']).toBe(credentials.KUBECONFIG);
    expect(ready.env['VAULT_TOKEN']).toBeNull();
    expect((await daemon.stop()).code).toBe(0);
    expectNoSecrets(daemon.stderr, Object.values(credentials));
  });
});

describe("the sidecar's credentials and templates", () => {
  const config = (allow: string) => `
env_allow = ${allow}
template {
  contents    = "{{env \\"VAULT_TOKEN\\"}}|{{env \\"VAULT_ADDR\\"}}"
  destination = "@OUT@/token"
}
`;

  it('refuses {{env "VAULT_TOKEN"}} when only a prefix such as "V*" allows it, with a coded render error', async () => {
    const token = canary('template-vault-token');
    project = await makeProject({ config: config('["V*"]') });
    const result = await runCli(['once', '-c', project.config], { env: { VAULT_TOKEN: token, VAULT_ADDR: 'http://127.0.0.1:8200' } });
    expect(result.code).toBe(4);
    expect(result.stderr).toContain('env \\"VAULT_TOKEN\\" is among the sidecar\'s own credential variables');
    expectNoSecrets(result.stderr + result.stdout, [token]);
  });

  it('lets a template read VAULT_TOKEN when env_allow names it exactly, a deliberate choice', async () => {
    const token = canary('template-vault-token');
    project = await makeProject({ config: config('["VAULT_TOKEN", "VAULT_ADDR"]') });
    const result = await runCli(['once', '-c', project.config], { env: { VAULT_TOKEN: token, VAULT_ADDR: 'http://127.0.0.1:8200' } });
    expect(result.code).toBe(0);
    expect(readFileSync(join(project.out, 'token'), 'utf8')).toBe(`${token}|http://127.0.0.1:8200`);
    expectNoSecrets(result.stderr + result.stdout, [token]);
  });
});
