import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { canary } from '../support/canary.js';
import { Daemon, runCli, type LogRecord } from '../support/cli.js';
import { REPO_ROOT, removeDir } from '../support/dirs.js';
import { httpCall } from '../support/http.js';
import { startKubeControlPlane, type KubeControlPlane } from '../support/kube-control-plane.js';
import { createDeployment as createWorkload, readDeployment } from '../support/kube-workload.js';
import { expectNoSecrets } from '../support/leaks.js';
import { freePort, startOpenBao, type OpenBao } from '../support/openbao.js';
import { makeProject, type Project } from '../support/project.js';
import { mountDatabaseEngine } from '../support/database-engine.js';
import { startPostgres, type Postgres } from '../support/postgres.js';
import { AWS_TEST_ENV, motoClientConfig, startMoto, type Moto } from '../support/moto.js';
import { CreateSecretCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { parsePrometheus, sample } from '../support/prometheus.js';

// Issue 15, scope 3: the rollout notify target, driven by real `run` processes of the built CLI, a real OpenBao
// (KV v2) and a real API server with RBAC.

const NS = 'shop';
let kube: KubeControlPlane;
let bao: OpenBao;
let pg: Postgres;
let moto: Moto;
let sidecarToken: string;
const projects: Project[] = [];
const daemons: Daemon[] = [];

beforeAll(async () => {
  [kube, bao, pg, moto] = await Promise.all([startKubeControlPlane(), startOpenBao(), startPostgres(), startMoto()]);
  await mountDatabaseEngine(bao, pg, { web: { defaultTtl: '1h', maxTtl: '1h' } });
  await kube.createNamespace(NS);
  // The example's service account, Role and RoleBinding, as a user applies them: get and patch on "app" only.
  for (const doc of parseAllDocuments(await readFile(join(REPO_ROOT, 'examples/kubernetes/rollout-rbac.yaml'), 'utf8'))) {
    const object = doc.toJS() as { apiVersion: string; kind: string };
    const group = object.apiVersion === 'v1' ? '/api/v1' : `/apis/${object.apiVersion}`;
    await kube.apiOk('POST', `${group}/namespaces/${NS}/${object.kind.toLowerCase()}s`, object);
  }
  sidecarToken = await kube.serviceAccountToken(NS, 'app-secrets-sidecar');
  for (const name of ['app', 'locked']) await createDeployment(name);
}, 120_000);
afterAll(async () => {
  await Promise.all([kube?.stop(), bao?.stop(), moto?.stop()]);
  pg?.stop();
});
afterEach(async () => {
  await Promise.all(daemons.splice(0).map((d) => d.stop()));
  await Promise.all(projects.splice(0).map((p) => removeDir(p.root)));
});

const createDeployment = (name: string) => createWorkload(kube, NS, name);
const deployment = (name: string) => readDeployment(kube, NS, name);

async function rotate(path: string, value: string): Promise<void> {
  await bao.api('POST', `secret/data/${path}`, { data: { password: value } });
}

/** One pod's sidecar: its own output directory and kubeconfig (its service account's token), the same config text. */
async function sidecar(
  secretPath: string,
  workload: string,
  extra: { rollout?: string; top?: string; contents?: string; prepare?: (root: string) => Promise<Record<string, string>>; snapshot?: boolean } = {},
) {
  const project = await makeProject({
    config: `
${extra.top ?? ''}
backend "vault" "main" {
  address                 = "${bao.address}"
  static_refresh_interval = "200ms"
}
template {
  contents    = "PASSWORD={{secret \\"main:secret/${secretPath}#password\\"}}${extra.contents ?? ''}"
  destination = "@OUT@/app.env"
  notify      = ["web"]
}
notify "web" {
  rollout {
    kind = "Deployment"
    name = "${workload}"
${extra.rollout ?? `    namespace  = "${NS}"\n    kubeconfig = "@ROOT@/kubeconfig"`}
  }
}
`,
  });
  projects.push(project);
  await kube.writeKubeconfig(join(project.root, 'kubeconfig'), sidecarToken);
  const env = (await extra.prepare?.(project.root)) ?? {};
  const daemon = new Daemon(['-c', project.config], { env: { VAULT_TOKEN: bao.rootToken, ...env }, snapshot: extra.snapshot });
  daemons.push(daemon);
  return { project, daemon, file: () => readFileSync(join(project.out, 'app.env'), 'utf8') };
}

const notified = (r: LogRecord) => (r.msg === 'notified' || r.msg === 'notify failed') && r['notify'] === 'web';

/** Every encoding of a value a careless implementation might put in an annotation. */
function derivedForms(value: string): string[] {
  const forms = [value, Buffer.from(value).toString('base64'), JSON.stringify({ password: value })];
  for (const text of [value, JSON.stringify({ password: value }), `PASSWORD=${value}`])
    for (const algorithm of ['sha256', 'sha1', 'md5', 'sha512']) {
      const digest = createHash(algorithm).update(text).digest();
      forms.push(digest.toString('hex'), digest.toString('hex').slice(0, 16), digest.toString('base64'));
    }
  return forms;
}

describe('notify rollout (built CLI, real API server, real OpenBao)', () => {
  it('three sidecars seeing one rotation bump the Deployment generation by exactly one; the first render patches nothing', async () => {
    const [first, second] = [canary('rollout-v1'), canary('rollout-v2')];
    await rotate('web', first);
    const before = await deployment('app');
    const replicas = [await sidecar('web', 'app'), await sidecar('web', 'app'), await sidecar('web', 'app')];
    // Each first render fires the target, which only records the versions.
    for (const r of replicas) expect((await r.daemon.waitFor(notified))['detail']).toBe('no versioned secret changed: no rollout');
    expect((await deployment('app')).generation).toBe(before.generation);

    const marks = replicas.map((r) => r.daemon.mark);
    await rotate('web', second);
    const outcomes = await Promise.all(replicas.map((r, i) => r.daemon.waitFor(notified, marks[i])));
    for (const r of replicas) expect(r.file()).toBe(`PASSWORD=${second}`);
    expect(outcomes.map((o) => o.msg)).toEqual(['notified', 'notified', 'notified']);
    const after = await deployment('app');
    expect(after.generation).toBe(before.generation + 1);
    // The patch names versions only: no value, and no hash of one, anywhere in the Deployment.
    expect(after.json).toContain('secrets-sidecar/secret-versions');
    for (const form of [...derivedForms(first), ...derivedForms(second)]) expect(after.json).not.toContain(form);
    for (const r of replicas) expectNoSecrets(r.daemon.stderr, [first, second, bao.rootToken, sidecarToken]);
  });

  it('rolls out for an AWS Secrets Manager rotation (moto), by its version id', async () => {
    const [first, second] = [canary('aws-v1'), canary('aws-v2')];
    const sm = new SecretsManagerClient(motoClientConfig(moto));
    try {
      await sm.send(new CreateSecretCommand({ Name: 'shop/web', SecretString: first }));
      const project = await makeProject({
        config: `
backend "aws_secrets_manager" "aws" {
  endpoint         = "${moto.endpoint}"
  refresh_interval = "200ms"
}
template {
  contents    = "{{secret \\"aws:shop/web\\"}}"
  destination = "@OUT@/pw"
}
notify "web" {
  rollout {
    kind       = "Deployment"
    name       = "app"
    namespace  = "${NS}"
    kubeconfig = "@ROOT@/kubeconfig"
  }
}
`,
      });
      projects.push(project);
      await kube.writeKubeconfig(join(project.root, 'kubeconfig'), sidecarToken);
      const daemon = new Daemon(['-c', project.config], { env: { ...AWS_TEST_ENV } });
      daemons.push(daemon);
      await daemon.waitFor(notified);
      const before = await deployment('app');
      const mark = daemon.mark;
      const put = await sm.send(new PutSecretValueCommand({ SecretId: 'shop/web', SecretString: second }));
      expect((await daemon.waitFor(notified, mark))['detail']).toBe(`rollout restart of deployment ${NS}/app`);
      expect(readFileSync(join(project.out, 'pw'), 'utf8')).toBe(second);
      const after = await deployment('app');
      expect(after.generation).toBe(before.generation + 1);
      // The entry is the version's creation time and AWS's own version id.
      expect(Object.values(JSON.parse(after.annotations['secrets-sidecar/secret-versions'] ?? '{}') as Record<string, string>)).toContainEqual(
        expect.stringMatching(new RegExp(`^[1-9]\\d{12}:${put.VersionId ?? 'none'}$`)),
      );
      for (const form of [...derivedForms(first), ...derivedForms(second)]) expect(after.json).not.toContain(form);
      expectNoSecrets(daemon.stderr, [first, second, sidecarToken]);
    } finally {
      sm.destroy();
    }
  });

  it('a refused patch (RBAC) is a coded error in the log, the audit record and the metrics; files are still written and the sidecar runs on', async () => {
    const [first, second, third] = [canary('denied-v1'), canary('denied-v2'), canary('denied-v3')];
    await rotate('locked', first);
    const port = await freePort();
    const { daemon, file, project } = await sidecar('locked', 'locked', {
      top: `listener {\n  address = "127.0.0.1:${port}"\n}\naudit {\n  path = "@ROOT@/audit.jsonl"\n}`,
    });
    await daemon.waitFor(notified);
    const before = await deployment('locked');
    let mark = daemon.mark;
    await rotate('locked', second);
    const failed = await daemon.waitFor(notified, mark);
    expect(failed.msg).toBe('notify failed');
    expect((failed['error'] as { code: string }).code).toBe('SIDECAR_ERR_ROLLOUT_DENIED');
    expect(file()).toBe(`PASSWORD=${second}`);
    const audit = (await readFile(join(project.root, 'audit.jsonl'), 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(audit.filter((r) => r['event'] === 'reload.notify' && r['outcome'] === 'error').map((r) => r['errorCode'])).toEqual(['SIDECAR_ERR_ROLLOUT_DENIED']);
    const metrics = parsePrometheus((await httpCall(port, 'GET', '/metrics')).body);
    expect(sample(metrics, 'secrets_sidecar_reload_errors_total', { target: 'web', code: 'SIDECAR_ERR_ROLLOUT_DENIED' })).toBe(1);
    expect((await deployment('locked')).generation).toBe(before.generation);

    // Still running: the next rotation is rendered too.
    mark = daemon.mark;
    await rotate('locked', third);
    await daemon.waitFor(notified, mark);
    expect(file()).toBe(`PASSWORD=${third}`);
    expect(daemon.child.exitCode).toBeNull();
    expectNoSecrets(daemon.stderr, [first, second, third, bao.rootToken, sidecarToken]);
  });

  it('runs in-cluster by default: the service-account directory as the kubelet lays it out, KUBERNETES_SERVICE_HOST and _PORT, the pod namespace', async () => {
    const [first, second] = [canary('incluster-v1'), canary('incluster-v2')];
    await rotate('incluster', first);
    const { daemon } = await sidecar('incluster', 'app', {
      // No kubeconfig, no namespace: the pod's own.
      rollout: '',
      prepare: async (root) => {
        const dir = join(root, 'serviceaccount');
        await mkdir(dir);
        await writeFile(join(dir, 'token'), sidecarToken);
        await writeFile(join(dir, 'ca.crt'), kube.caCert);
        await writeFile(join(dir, 'namespace'), NS);
        return { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: new URL(kube.server).port, SECRETS_SIDECAR_SERVICE_ACCOUNT_DIR: dir };
      },
    });
    await daemon.waitFor(notified);
    const before = await deployment('app');
    const mark = daemon.mark;
    await rotate('incluster', second);
    const done = await daemon.waitFor(notified, mark);
    expect(done['detail']).toBe(`rollout restart of deployment ${NS}/app`);
    expect((await deployment('app')).generation).toBe(before.generation + 1);
    expectNoSecrets(daemon.stderr, [first, second, bao.rootToken, sidecarToken]);
  });

  it('a per-pod dynamic secret never triggers a rollout: warned about at start, re-issued without a patch', async () => {
    const [first, second] = [canary('dynamic-v1'), canary('dynamic-v2')];
    await rotate('mixed', first);
    const { daemon, file } = await sidecar('mixed', 'app', {
      contents: '\\nDB_USER={{#with (secret \\"main:database/creds/web\\")}}{{username}}{{/with}}',
    });
    const warning = await daemon.waitFor((r) => r.level === 'warn' && r.msg.includes('mixes per-pod dynamic secrets'));
    expect(warning['dynamic']).toEqual(['main:database/creds/web']);
    await daemon.waitFor(notified);
    const before = await deployment('app');
    const user = file().split('\n')[1];

    // A forced refresh issues a new database credential: new bytes, the target fires, nothing is patched.
    let mark = daemon.mark;
    daemon.signal('SIGUSR1');
    expect((await daemon.waitFor(notified, mark))['detail']).toBe('no versioned secret changed: no rollout');
    expect(file().split('\n')[1]).not.toBe(user);
    expect((await deployment('app')).generation).toBe(before.generation);

    // The versioned secret in the same template still does.
    mark = daemon.mark;
    await rotate('mixed', second);
    expect((await daemon.waitFor(notified, mark))['detail']).toBe(`rollout restart of deployment ${NS}/app`);
    expect((await deployment('app')).generation).toBe(before.generation + 1);
    expectNoSecrets(daemon.stderr, [first, second, bao.rootToken, sidecarToken]);
  });

  it('loads the Kubernetes client only when a rollout target is configured', async () => {
    await rotate('lazy', canary('lazy'));
    const traced = async (root: string) => {
      // A module hook that records every module the sidecar resolves whose name says Kubernetes.
      const trace = join(root, 'resolved.txt');
      const hook = join(root, 'hook.mjs');
      const resolveHook = `import { appendFileSync } from 'node:fs';\nexport async function resolve(s, c, next) {\n  if (/kube/.test(s)) appendFileSync(${JSON.stringify(trace)}, s + '\\n');\n  return next(s, c);\n}\n`;
      await writeFile(
        hook,
        `import { register } from 'node:module';\nregister('data:text/javascript,' + encodeURIComponent(${JSON.stringify(resolveHook)}));\n`,
      );
      await writeFile(trace, '');
      return { trace, env: { NODE_OPTIONS: `--import=${hook}` } };
    };
    let trace = '';
    const plain = await makeProject({
      config: `backend "vault" "main" {\n  address = "${bao.address}"\n}\ntemplate {\n  contents    = "{{secret \\"main:secret/lazy#password\\"}}"\n  destination = "@OUT@/pw"\n}\n`,
    });
    projects.push(plain);
    const without = await traced(plain.root);
    // The bin, also under SIDECAR_TEST_SNAPSHOT=1: the hook sees the bin's ESM chunks load, while the snapshot's
    // one CommonJS script require()s them, past any ESM resolve hook.
    const daemon = new Daemon(['-c', plain.config], { env: { VAULT_TOKEN: bao.rootToken, ...without.env }, snapshot: false });
    daemons.push(daemon);
    await daemon.waitFor((r) => r.msg === 'all templates rendered');
    expect(await readFile(without.trace, 'utf8')).toBe('');

    const withRollout = await sidecar('lazy', 'app', {
      snapshot: false,
      prepare: async (root) => {
        const hooked = await traced(root);
        trace = hooked.trace;
        return hooked.env;
      },
    });
    await withRollout.daemon.waitFor(notified);
    expect(await readFile(trace, 'utf8')).toMatch(/kube-connection-\w+\.js/);
  });

  it('refuses to start when a template that notifies a rollout reads a secret without a version, naming the reference', async () => {
    const project = await makeProject({
      config: `
backend "file" "local" {
  path = "@ROOT@/secrets.json"
}
template {
  contents    = "{{secret \\"local:db#password\\"}}"
  destination = "@OUT@/pw"
}
notify "web" {
  rollout {
    kind       = "Deployment"
    name       = "web"
    kubeconfig = "@ROOT@/kubeconfig"
  }
}
`,
      secrets: { db: { password: canary('unversioned') } },
    });
    projects.push(project);
    await kube.writeKubeconfig(join(project.root, 'kubeconfig'), sidecarToken);
    const daemon = new Daemon(['-c', project.config]);
    daemons.push(daemon);
    const exit = await daemon.exited;
    expect(exit.code).toBe(2);
    const error = daemon.records.find((r) => (r['error'] as { code?: string } | undefined)?.code === 'SIDECAR_ERR_ROLLOUT_UNVERSIONED');
    expect(error?.msg).toContain('local:db');
  });

  it('after a SIGHUP reload, an unversioned secret is logged and the sidecar keeps running and writing (exit 2 only at start)', async () => {
    const password = canary('reload-unversioned');
    await rotate('reload', canary('reload-v1'));
    const replica = await sidecar('reload', 'app');
    await replica.daemon.waitFor(notified);
    await writeFile(join(replica.project.root, 'secrets.json'), JSON.stringify({ db: { password } }));
    const config = await readFile(replica.project.config, 'utf8');
    await writeFile(
      replica.project.config,
      config
        .replace(/PASSWORD=\{\{secret [^}]*\}\}/, 'PASSWORD={{secret \\"local:db#password\\"}}')
        .replace('backend "vault"', `backend "file" "local" {\n  path = "${join(replica.project.root, 'secrets.json')}"\n}\nbackend "vault"`),
    );
    const mark = replica.daemon.mark;
    replica.daemon.child.kill('SIGHUP');
    const refused = await replica.daemon.waitFor((r) => (r['error'] as { code?: string } | undefined)?.code === 'SIDECAR_ERR_ROLLOUT_UNVERSIONED', mark);
    expect(refused.msg).toContain('after the reload');
    expect(replica.file()).toBe(`PASSWORD=${password}`);
    // Still running on the new config: a change of the file secret is written (and its rollout refused again).
    const next = canary('reload-unversioned-2');
    const again = replica.daemon.mark;
    await writeFile(join(replica.project.root, 'secrets.json'), JSON.stringify({ db: { password: next } }));
    await replica.daemon.waitFor((r) => r.msg === 'rendered' && r['outcome'] === 'written', again);
    expect(replica.file()).toBe(`PASSWORD=${next}`);
    expect(replica.daemon.child.exitCode).toBeNull();
    expectNoSecrets(replica.daemon.stderr, [password, next, bao.rootToken, sidecarToken]);
  });

  it('validates the block: a kind it cannot restart, a name or namespace that is a path or a template', async () => {
    for (const [field, text] of [
      ['kind', 'kind = "Pod"\n    name = "web"'],
      ['name', 'kind = "Deployment"\n    name = "../../api/v1/secrets"'],
      ['namespace', 'kind = "Deployment"\n    name = "web"\n    namespace = "{{ env \\"NS\\" }}"'],
    ]) {
      const project = await makeProject({ config: `notify "web" {\n  rollout {\n    ${text}\n  }\n}\n` });
      projects.push(project);
      const result = await runCli(['validate', '-c', project.config]);
      expect(result.code, field).toBe(2);
      expect(result.stderr, field).toContain(`notify.web.rollout.${field}`);
    }
  });
});
