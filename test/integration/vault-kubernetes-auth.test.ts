import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Daemon, runCli, type LogRecord } from '../support/cli.js';
import { removeDir } from '../support/dirs.js';
import { startKubeControlPlane, type KubeControlPlane } from '../support/kube-control-plane.js';
import { makeKubernetesVolume, updateKubernetesVolume } from '../support/kubernetes-volume.js';
import { expectNoSecrets } from '../support/leaks.js';
import { startOpenBao, type OpenBao } from '../support/openbao.js';
import { makeProject, type Project } from '../support/project.js';
import { startToxiproxy, type Toxiproxy } from '../support/toxiproxy.js';

/*
 * OpenBao's kubernetes auth method against a real kube-apiserver: every login is a TokenReview of a token the API
 * server signed through TokenRequest, the token the kubelet projects into a pod. Vault reaches the API server
 * through toxiproxy, so a test can take it away.
 */
let kube: KubeControlPlane;
let bao: OpenBao;
let apiProxy: Toxiproxy;
let project: Project | undefined;
let daemon: Daemon | undefined;
let anchors = 0;

const PASSWORD = 'kube-auth-pw-6a6a';
const AUDIENCE = 'vault';

beforeAll(async () => {
  [kube, bao] = await Promise.all([startKubeControlPlane(), startOpenBao()]);
  apiProxy = await startToxiproxy(kube.server.replace('https://', ''));
  await kube.createNamespace('app');
  await kube.createServiceAccount('app', 'sidecar');
  await kube.createServiceAccount('app', 'intruder');
  await kube.createNamespace('other');
  await kube.createServiceAccount('other', 'sidecar');
  // Vault's reviewer is a service account allowed to call TokenReview, as Vault's documentation sets it up.
  await kube.createNamespace('vault');
  await kube.createServiceAccount('vault', 'token-reviewer');
  await kube.apiOk('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: 'vault-token-reviewer' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:auth-delegator' },
    subjects: [{ kind: 'ServiceAccount', name: 'token-reviewer', namespace: 'vault' }],
  });
  const reviewer = await kube.serviceAccountToken('vault', 'token-reviewer', { expirationSeconds: 6 * 3600 });

  await bao.api('PUT', 'sys/policies/acl/read-app', { policy: 'path "secret/data/kube/*" {\n  capabilities = ["read"]\n}\n' });
  await bao.api('POST', 'secret/data/kube/db', { data: { password: PASSWORD } });
  await bao.api('POST', 'sys/auth/kubernetes', { type: 'kubernetes' });
  await bao.api('POST', 'auth/kubernetes/config', {
    kubernetes_host: `https://${apiProxy.listen}`,
    kubernetes_ca_cert: kube.caCert,
    token_reviewer_jwt: reviewer,
    disable_local_ca_jwt: true,
  });
  const role = (name: string, namespace: string, ttl: string) =>
    bao.api('POST', `auth/kubernetes/role/${name}`, {
      bound_service_account_names: ['sidecar'],
      bound_service_account_namespaces: [namespace],
      audience: AUDIENCE,
      token_policies: ['read-app'],
      token_ttl: ttl,
      token_max_ttl: ttl,
    });
  await role('sidecar', 'app', '1h');
  // Its tokens reach their max TTL in seconds: the sidecar logs in again and again, reading the file each time.
  await role('short', 'app', '3s');
  await role('other-namespace', 'other', '1h');
}, 120_000);
afterAll(async () => {
  await Promise.all([apiProxy?.stop(), bao?.stop(), kube?.stop()]);
});
afterEach(async () => {
  await daemon?.stop();
  await removeDir(project?.root);
  daemon = project = undefined;
  await apiProxy.setEnabled(true);
  await bao.api('POST', 'secret/data/kube/db', { data: { password: PASSWORD } });
});

/** A token of `account` bound to a Secret of its own, so that deleting the Secret invalidates it (returned too). */
async function boundToken(namespace: string, account: string): Promise<{ token: string; invalidate: () => Promise<void> }> {
  const anchor = `token-anchor-${++anchors}`;
  await kube.apiOk('POST', `/api/v1/namespaces/${namespace}/secrets`, { apiVersion: 'v1', kind: 'Secret', metadata: { name: anchor } });
  const token = await kube.serviceAccountToken(namespace, account, {
    audiences: [AUDIENCE],
    expirationSeconds: 600,
    boundObjectRef: { kind: 'Secret', apiVersion: 'v1', name: anchor },
  });
  const invalidate = async () => {
    await kube.apiOk('DELETE', `/api/v1/namespaces/${namespace}/secrets/${anchor}`);
    await kube.waitUntilTokenRefused(token, [AUDIENCE]);
  };
  return { token, invalidate };
}

/** Vault's own answer to a login with this token (status only). */
async function loginStatus(role: string, jwt: string): Promise<number> {
  const response = await fetch(`${bao.address}/v1/auth/kubernetes/login`, { method: 'POST', body: JSON.stringify({ role, jwt }) });
  await response.body?.cancel();
  return response.status;
}

/** A project whose sidecar logs in with the token projected into `<root>/serviceaccount/token`. */
async function projectFor(role: string, token: string): Promise<{ project: Project; volume: string }> {
  const p = await makeProject({ config: '' });
  const volume = join(p.root, 'serviceaccount');
  await makeKubernetesVolume(volume, { token });
  await p.write(
    'sidecar.hcl',
    `
backend "vault" "main" {
  address = "${bao.address}"
  static_refresh_interval = "300ms"
  auth "kubernetes" {
    role     = "${role}"
    jwt_file = "${volume}/token"
  }
}
retry {
  backoff     = "100ms"
  max_backoff = "1s"
}
template {
  contents    = "{{secret \\"main:secret/kube/db#password\\"}}"
  destination = "${p.out}/pw"
}
`,
  );
  return { project: p, volume };
}

const audit =
  (event: string, outcome = 'ok') =>
  (r: LogRecord) =>
    (r['audit'] as { event?: string } | undefined)?.event === event && (r['audit'] as { outcome?: string }).outcome === outcome;
const written = (r: LogRecord) => r.msg === 'rendered' && r['outcome'] === 'written';

describe('Kubernetes auth against a real API server (TokenRequest, TokenReview)', () => {
  it('logs in with a projected service-account token and renders', async () => {
    const { token } = await boundToken('app', 'sidecar');
    ({ project } = await projectFor('sidecar', token));
    const result = await runCli(['once', '-c', project.config]);
    expect(result.code, result.stderr).toBe(0);
    expect(readFileSync(join(project.out, 'pw'), 'utf8')).toBe(PASSWORD);
    expect(result.stderr).toContain('"path":"auth/kubernetes/login","outcome":"ok"');
    expectNoSecrets(result.stderr, [PASSWORD, token]);
  });

  it.each([
    ['a token of another service account', 'app', 'intruder', 'sidecar'],
    ['a role bound to another namespace', 'app', 'sidecar', 'other-namespace'],
  ])('refuses %s with a coded error naming the role, and writes nothing', async (_case, namespace, account, role) => {
    const { token } = await boundToken(namespace, account);
    ({ project } = await projectFor(role, token));
    const result = await runCli(['once', '-c', project.config]);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('"code":"SIDECAR_ERR_BACKEND_DENIED"');
    expect(result.stderr).toContain(`logging in as role \\"${role}\\"`);
    expect(existsSync(join(project.out, 'pw'))).toBe(false);
    expectNoSecrets(result.stderr, [token]);
  });

  it.each([
    // Empty: retried (whoever writes it may not be done) until --timeout; huge: refused at once.
    ['an empty', '', 'is empty', 6],
    ['a huge', 'x'.repeat(1024 * 1024), 'is larger than 64 KiB', 3],
  ])('refuses %s token file with a coded error before asking Vault, and writes nothing', async (_case, content, message, code) => {
    ({ project } = await projectFor('sidecar', 'placeholder'));
    await writeFile(join(project.root, 'serviceaccount', '..data', 'token'), content);
    const logins = (await bao.auditedRequests()).filter((r) => r.path === 'auth/kubernetes/login').length;
    const result = await runCli(['once', '-c', project.config, '--timeout', '3s']);
    expect(result.code).toBe(code);
    expect(result.stderr).toContain(message);
    expect(existsSync(join(project.out, 'pw'))).toBe(false);
    expect((await bao.auditedRequests()).filter((r) => r.path === 'auth/kubernetes/login').length).toBe(logins);
  });

  /** A running sidecar logged in as `role`; then the kubelet projects a new token, and the old one dies with its bound object. */
  async function rotatedUnder(role: string): Promise<{ first: string; second: string }> {
    const first = await boundToken('app', 'sidecar');
    let volume: string;
    ({ project, volume } = await projectFor(role, first.token));
    daemon = new Daemon(['-c', project.config]);
    await daemon.waitFor((r) => r.msg === 'all templates rendered');
    const second = await boundToken('app', 'sidecar');
    await updateKubernetesVolume(volume, { token: second.token });
    await first.invalidate();
    expect(await loginStatus(role, first.token)).toBe(403);
    return { first: first.token, second: second.token };
  }

  it('follows the kubelet rotating its token: at the Vault token max TTL the next login reads the new one', async () => {
    const tokens = await rotatedUnder('short');
    const running = daemon as Daemon;
    const mark = running.mark;
    await running.waitFor(audit('auth.login'), mark);
    await bao.api('POST', 'secret/data/kube/db', { data: { password: 'kube-auth-pw-7b7b' } });
    await running.waitFor(written, mark);
    expect(readFileSync(join((project as Project).out, 'pw'), 'utf8')).toBe('kube-auth-pw-7b7b');
    // Every login after the swap used the new token: none was refused.
    expect(running.count(audit('auth.login', 'error'), mark)).toBe(0);
    expectNoSecrets(running.stderr, [PASSWORD, 'kube-auth-pw-7b7b', tokens.first, tokens.second]);
  });

  it('follows the kubelet rotating its token: when Vault refuses the old Vault token (403), the login reads the new one', async () => {
    const tokens = await rotatedUnder('sidecar');
    const running = daemon as Daemon;
    // The Vault token lives an hour: no login since the first, until an operator revokes every Kubernetes
    // login's Vault token and the next read gets 403.
    expect(running.count(audit('auth.login'))).toBe(1);
    await bao.api('PUT', 'sys/leases/revoke-prefix/auth/kubernetes/login');
    const mark = running.mark;
    await bao.api('POST', 'secret/data/kube/db', { data: { password: 'kube-auth-pw-8c8c' } });
    await running.waitFor(written, mark);
    expect(readFileSync(join((project as Project).out, 'pw'), 'utf8')).toBe('kube-auth-pw-8c8c');
    expect(running.count(audit('auth.login'))).toBe(2);
    expectNoSecrets(running.stderr, [PASSWORD, 'kube-auth-pw-8c8c', tokens.first, tokens.second]);
  });

  it('keeps the last good files while the API server is down at login, and logs in once it is back', async () => {
    const { token } = await boundToken('app', 'sidecar');
    ({ project } = await projectFor('short', token));
    daemon = new Daemon(['-c', project.config]);
    await daemon.waitFor((r) => r.msg === 'all templates rendered');

    await apiProxy.setEnabled(false);
    const down = daemon.mark;
    const failed = await daemon.waitFor(audit('auth.login', 'error'), down);
    // Vault cannot review the token: that is an outage to wait out, not a refusal to give up on.
    await daemon.waitFor((r) => r.msg === 'vault login failed, retrying with backoff', down);
    expect(readFileSync(join(project.out, 'pw'), 'utf8')).toBe(PASSWORD);

    await apiProxy.setEnabled(true);
    const back = daemon.mark;
    await daemon.waitFor(audit('auth.login'), back);
    await bao.api('POST', 'secret/data/kube/db', { data: { password: 'kube-auth-pw-9d9d' } });
    await daemon.waitFor(written, back);
    expect(readFileSync(join(project.out, 'pw'), 'utf8')).toBe('kube-auth-pw-9d9d');
    // OpenBao answers "permission denied" (403) when TokenReview cannot be reached: the sidecar retries it here.
    expect((failed['audit'] as { errorCode?: string }).errorCode).toBe('SIDECAR_ERR_BACKEND_DENIED');
    expectNoSecrets(daemon.stderr, [PASSWORD, 'kube-auth-pw-9d9d', token]);
  });
  it('starts with a token already invalidated (the kubelet swapping it mid-login), and renders once the new one is in place', async () => {
    const stale = await boundToken('app', 'sidecar');
    await stale.invalidate();
    let volume: string;
    ({ project, volume } = await projectFor('sidecar', stale.token));
    daemon = new Daemon(['-c', project.config]);
    await daemon.waitFor(audit('auth.login', 'error'));
    const fresh = await boundToken('app', 'sidecar');
    await updateKubernetesVolume(volume, { token: fresh.token });
    await daemon.waitFor((r) => r.msg === 'all templates rendered');
    expect(readFileSync(join(project.out, 'pw'), 'utf8')).toBe(PASSWORD);
    expectNoSecrets(daemon.stderr, [PASSWORD, stale.token, fresh.token]);
  });
});
