import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { Duplex } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RolloutAction } from '../../src/config/types.js';
import { SidecarError } from '../../src/errors.js';
import { createLogger } from '../../src/log/logger.js';
import { ROLLOUT_ANNOTATION, type VersionMap } from '../../src/reload/rollout-annotation.js';
import { RolloutTarget, type RolloutRef } from '../../src/reload/rollout-target.js';
import type { SourceVersion } from '../../src/source-version.js';
import { startKubeControlPlane, type KubeControlPlane } from '../support/kube-control-plane.js';
import { createDeployment as createWorkload, readDeployment } from '../support/kube-workload.js';
import { LogCapture } from '../support/leaks.js';
import { freePort } from '../support/openbao.js';
import { makeCertificates } from '../support/test-certs.js';

// The rollout target against a real API server (RBAC, conditional patches, generation), with the secret versions
// scripted: what a replica's templates read is the input, the Deployment as the API server stores it the output.

let kube: KubeControlPlane;
let dir: string;
let adminConfig: string;
const NS = 'rollout-it';

beforeAll(async () => {
  kube = await startKubeControlPlane();
  dir = await mkdtemp(join(tmpdir(), 'kube-rollout-'));
  adminConfig = join(dir, 'admin.kubeconfig');
  await kube.writeKubeconfig(adminConfig);
  await kube.createNamespace(NS);
}, 90_000);
afterAll(async () => {
  await kube?.stop();
  await rm(dir, { recursive: true, force: true });
});

let workloads = 0;
async function createDeployment(name = `web-${++workloads}`): Promise<string> {
  await createWorkload(kube, NS, name);
  return name;
}

async function deployment(name: string): Promise<{ generation: number; annotation: string | undefined; json: string }> {
  const { generation, annotations, json } = await readDeployment(kube, NS, name);
  return { generation, annotation: annotations[ROLLOUT_ANNOTATION], json };
}

const kv = (version: number): SourceVersion => ({ id: String(version), order: [1_700_000_000_000 + version * 1000, version] });

/** One replica's sidecar: its target and the versions its templates see now (set `versions` to rotate). */
function replica(
  name: string,
  options: { kubeconfig?: string | undefined; namespace?: string | undefined; env?: Record<string, string>; action?: Partial<RolloutAction> } = {},
) {
  const capture = new LogCapture();
  const state: { versions: Record<string, SourceVersion>; extra: RolloutRef[] } = { versions: { 'vault:secret/app': kv(1) }, extra: [] };
  const action: RolloutAction = {
    kind: 'rollout',
    workload: 'Deployment',
    name,
    namespace: 'namespace' in options ? options.namespace : NS,
    kubeconfig: 'kubeconfig' in options ? options.kubeconfig : adminConfig,
    timeoutMs: 5_000,
    ...options.action,
  };
  const target = new RolloutTarget({
    name: 'web',
    action,
    refs: () => [...Object.entries(state.versions).map(([label, source]) => ({ label, template: 'app.tpl', source, dynamic: false })), ...state.extra],
    env: options.env ?? {},
    memory: new Map<string, VersionMap>(),
    logger: createLogger({ level: 'debug', format: 'json', stream: capture }),
  });
  return { target, state, capture };
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(SidecarError);
    return (error as SidecarError).code;
  }
  throw new Error('expected a coded error');
}

describe('the rollout target against a real API server', () => {
  it('records the versions of the first render without patching, then patches once per new version', async () => {
    const name = await createDeployment();
    const before = await deployment(name);
    const a = replica(name);
    await a.target.onFirstRender();
    expect(await a.target.fire()).toContain('no versioned secret changed');
    expect((await deployment(name)).generation).toBe(before.generation);

    a.state.versions['vault:secret/app'] = kv(2);
    expect(await a.target.fire()).toBe(`rollout restart of deployment ${NS}/${name}`);
    const after = await deployment(name);
    expect(after.generation).toBe(before.generation + 1);
    // The annotation holds versions by a digest of the reference: no path, no value.
    expect(JSON.parse(after.annotation ?? '')).toEqual({
      [createHash('sha256').update('vault:secret/app').digest('hex').slice(0, 16)]: `${kv(2).order.join('.')}:2`,
    });
    expect(after.json).not.toContain('secret/app');
    // The same versions again (a template re-rendered for a dynamic secret): nothing.
    expect(await a.target.fire()).toContain('no versioned secret changed');
    expect((await deployment(name)).generation).toBe(before.generation + 1);
  });

  it('never moves the annotation back: a replica behind the others leaves it as it is', async () => {
    const name = await createDeployment();
    const [ahead, behind] = [replica(name), replica(name)];
    await ahead.target.onFirstRender();
    await behind.target.onFirstRender();
    ahead.state.versions['vault:secret/app'] = kv(3);
    await ahead.target.fire();
    const rolled = await deployment(name);

    behind.state.versions['vault:secret/app'] = kv(2);
    expect(await behind.target.fire()).toContain('already rolled out');
    const after = await deployment(name);
    expect(after.annotation).toBe(rolled.annotation);
    expect(after.generation).toBe(rolled.generation);
  });

  it('ends at the newest versions, whatever order replicas saw two rotations in, with conflicts read again', async () => {
    const name = await createDeployment();
    const replicas = [replica(name), replica(name), replica(name), replica(name)];
    for (const r of replicas) {
      r.state.versions = { 'vault:secret/a': kv(1), 'vault:secret/b': kv(1) };
      await r.target.onFirstRender();
    }
    // Two secrets rotated; the replicas saw the new versions in different orders, all patching at once.
    replicas[0]!.state.versions = { 'vault:secret/a': kv(2), 'vault:secret/b': kv(1) };
    replicas[1]!.state.versions = { 'vault:secret/a': kv(1), 'vault:secret/b': kv(2) };
    replicas[2]!.state.versions = { 'vault:secret/a': kv(2), 'vault:secret/b': kv(2) };
    replicas[3]!.state.versions = { 'vault:secret/a': kv(2), 'vault:secret/b': kv(1) };
    const before = await deployment(name);
    await Promise.all(replicas.map((r) => r.target.fire()));
    const after = await deployment(name);
    const entries = JSON.parse(after.annotation ?? '{}') as Record<string, string>;
    expect(Object.values(entries).sort()).toEqual([`${kv(2).order.join('.')}:2`, `${kv(2).order.join('.')}:2`]);
    // At most one rollout per distinct set of versions written: {a2,b1} or {a1,b2} first, then {a2,b2}.
    expect(after.generation - before.generation).toBeGreaterThanOrEqual(1);
    expect(after.generation - before.generation).toBeLessThanOrEqual(2);
    // A replica that caught up afterwards changes nothing.
    const late = replica(name);
    late.state.versions = { 'vault:secret/a': kv(1), 'vault:secret/b': kv(1) };
    await late.target.onFirstRender();
    late.state.versions = { 'vault:secret/a': kv(2), 'vault:secret/b': kv(2) };
    expect(await late.target.fire()).toContain('already rolled out');
    expect((await deployment(name)).generation).toBe(after.generation);
  });

  it('reads again after a 409 Conflict: a patch made between its read and its patch is not overwritten', async () => {
    const name = await createDeployment();
    const conflicts: string[] = [];
    // Eight replicas patching at once, each with a newer version than the one before: the API server answers 409
    // to all but one patch per round, and every loser reads again.
    const replicas = Array.from({ length: 8 }, () => replica(name));
    for (const r of replicas) await r.target.onFirstRender();
    replicas.forEach((r, i) => (r.state.versions['vault:secret/app'] = kv(i + 2)));
    const results = await Promise.allSettled(replicas.map((r) => r.target.fire()));
    // A replica that lost every one of its tries (8 racers, 5 tries each: the newest can lose 7 rounds) fails with
    // the 409 named; the reload dispatcher retries a failed notify with backoff, as these later fires do.
    let losers = replicas.filter((_, i) => results[i]?.status === 'rejected');
    for (const [i, result] of results.entries())
      if (result.status === 'rejected') expect(String((result.reason as Error).message), `replica ${i}`).toContain('409 Conflict 5 times');
    for (let round = 0; round < replicas.length && losers.length > 0; round++) {
      const again = await Promise.allSettled(losers.map((r) => r.target.fire()));
      losers = losers.filter((_, i) => again[i]?.status === 'rejected');
    }
    expect(losers).toEqual([]);
    for (const r of replicas)
      conflicts.push(
        ...r.capture
          .records()
          .filter((l) => String(l['msg']).includes('(409)'))
          .map((l) => String(l['msg'])),
      );
    expect(conflicts.length).toBeGreaterThan(0);
    expect(results.filter((r) => r.status === 'fulfilled').length).toBeGreaterThan(0);
    // Whatever the order, the newest version wins.
    expect(Object.values(JSON.parse((await deployment(name)).annotation ?? '{}') as Record<string, string>)).toEqual([`${kv(9).order.join('.')}:9`]);
  });

  it('refuses with SIDECAR_ERR_ROLLOUT_DENIED when RBAC grants no patch, and the workload stays as it was', async () => {
    const name = await createDeployment();
    await kube.createServiceAccount(NS, 'reader');
    await kube.apiOk('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/roles`, {
      metadata: { name: 'reader' },
      rules: [{ apiGroups: ['apps'], resources: ['deployments'], resourceNames: [name], verbs: ['get'] }],
    });
    await kube.apiOk('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/rolebindings`, {
      metadata: { name: 'reader' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'reader' },
      subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace: NS }],
    });
    const config = join(dir, 'reader.kubeconfig');
    await kube.writeKubeconfig(config, await kube.serviceAccountToken(NS, 'reader'));
    const r = replica(name, { kubeconfig: config });
    await r.target.onFirstRender();
    r.state.versions['vault:secret/app'] = kv(2);
    const before = await deployment(name);
    let error: SidecarError | undefined;
    await r.target.fire().catch((e: SidecarError) => (error = e));
    expect(error?.code).toBe('SIDECAR_ERR_ROLLOUT_DENIED');
    expect(error?.retryable).toBe(false);
    expect(error?.message).toContain('PATCH deployment');
    expect(error?.message).toContain('403');
    expect((await deployment(name)).generation).toBe(before.generation);
    // A workload it may not even read: the GET is refused the same way.
    const other = replica(await createDeployment(), { kubeconfig: config });
    await other.target.onFirstRender();
    other.state.versions['vault:secret/app'] = kv(2);
    expect(await codeOf(other.target.fire())).toBe('SIDECAR_ERR_ROLLOUT_DENIED');
  });

  it('says SIDECAR_ERR_ROLLOUT_NOT_FOUND for a workload deleted mid-run, retryable, and patches again once it is back', async () => {
    const name = await createDeployment();
    const r = replica(name);
    await r.target.onFirstRender();
    await kube.apiOk('DELETE', `/apis/apps/v1/namespaces/${NS}/deployments/${name}`);
    r.state.versions['vault:secret/app'] = kv(2);
    let error: SidecarError | undefined;
    await r.target.fire().catch((e: SidecarError) => (error = e));
    expect(error?.code).toBe('SIDECAR_ERR_ROLLOUT_NOT_FOUND');
    expect(error?.retryable).toBe(true);
    // Recreated: the change not yet rolled out is, at the next firing.
    await createDeployment(name);
    expect(await r.target.fire()).toContain('rollout restart');
    expect((await deployment(name)).annotation).toContain(':2');
  });

  it('logs in in-cluster: the service-account token, CA and namespace as the kubelet lays them out, and the service variables', async () => {
    const name = await createDeployment();
    const accountDir = join(dir, 'serviceaccount');
    await mkdir(accountDir, { recursive: true });
    await kube.createServiceAccount(NS, 'sidecar');
    await kube.apiOk('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/roles`, {
      metadata: { name: 'sidecar-rollout' },
      rules: [{ apiGroups: ['apps'], resources: ['deployments'], resourceNames: [name], verbs: ['get', 'patch'] }],
    });
    await kube.apiOk('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/rolebindings`, {
      metadata: { name: 'sidecar-rollout' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'sidecar-rollout' },
      subjects: [{ kind: 'ServiceAccount', name: 'sidecar', namespace: NS }],
    });
    await writeFile(join(accountDir, 'token'), await kube.serviceAccountToken(NS, 'sidecar'));
    await writeFile(join(accountDir, 'ca.crt'), kube.caCert);
    await writeFile(join(accountDir, 'namespace'), NS);
    const port = new URL(kube.server).port;
    const env = { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: port, SECRETS_SIDECAR_SERVICE_ACCOUNT_DIR: accountDir };
    // No namespace in the block: the pod's own, from the namespace file.
    const r = replica(name, { kubeconfig: undefined, namespace: undefined, env });
    await r.target.onFirstRender();
    r.state.versions['vault:secret/app'] = kv(2);
    const before = await deployment(name);
    expect(await r.target.fire()).toBe(`rollout restart of deployment ${NS}/${name}`);
    expect((await deployment(name)).generation).toBe(before.generation + 1);

    // The kubelet rotates the token file: each request reads it again.
    await writeFile(join(accountDir, 'token'), 'not-a-valid-token-any-more');
    r.state.versions['vault:secret/app'] = kv(3);
    expect(await codeOf(r.target.fire())).toBe('SIDECAR_ERR_ROLLOUT_DENIED');
    await writeFile(join(accountDir, 'token'), await kube.serviceAccountToken(NS, 'sidecar'));
    expect(await r.target.fire()).toContain('rollout restart');

    // Without KUBERNETES_SERVICE_HOST, or with a namespace file that is not a namespace name: coded, before any request.
    const nowhere = replica(name, { kubeconfig: undefined, env: { SECRETS_SIDECAR_SERVICE_ACCOUNT_DIR: accountDir } });
    expect(await codeOf(nowhere.target.onFirstRender())).toBe('SIDECAR_ERR_ROLLOUT_CONNECTION');
    await writeFile(join(accountDir, 'namespace'), '../../kube-system/{{ secret "x" }}');
    const hostile = replica(name, { kubeconfig: undefined, namespace: undefined, env });
    await hostile.target.onFirstRender();
    hostile.state.versions['vault:secret/app'] = kv(4);
    expect(await codeOf(hostile.target.fire())).toBe('SIDECAR_ERR_ROLLOUT_CONNECTION');
  });

  it('bounds every request and trusts no answer: a server that never answers or trickles, lies or floods', async () => {
    const certs = await makeCertificates(dir, [['apiserver', 'subjectAltName=IP:127.0.0.1']]);
    const sockets = new Set<Duplex>();
    let mode: 'silent' | 'trickle' | 'not-a-workload' | 'flood' = 'silent';
    let patches = 0;
    const pem = (path: string) => readFile(path, 'utf8');
    const server: Server = createServer({ cert: await pem(certs.cert('apiserver').cert), key: await pem(certs.cert('apiserver').key) }, (req, res) => {
      if (req.method === 'PATCH') patches++;
      if (mode === 'silent') return;
      res.writeHead(200, { 'content-type': 'application/json' });
      if (mode === 'not-a-workload') return void res.end('{"kind":"Status","metadata":{}}');
      if (mode === 'flood') return void res.end(`{"pad":"${'x'.repeat(5 * 1024 * 1024)}"}`);
      const timer = setInterval(() => res.write(' '), 100);
      res.on('close', () => clearInterval(timer));
    });
    server.on('connection', (socket) => sockets.add(socket));
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    try {
      const config = join(dir, 'silent.kubeconfig');
      await writeFile(
        config,
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Config',
          clusters: [
            {
              name: 'c',
              cluster: { server: `https://127.0.0.1:${port}`, 'certificate-authority-data': Buffer.from(await pem(certs.caCert)).toString('base64') },
            },
          ],
          users: [{ name: 'u', user: { token: 'a-token-for-the-silent-server' } }],
          contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
          'current-context': 'x',
        }),
      );
      const expected = {
        silent: 'SIDECAR_ERR_RELOAD_TIMEOUT',
        trickle: 'SIDECAR_ERR_RELOAD_TIMEOUT',
        'not-a-workload': 'SIDECAR_ERR_RELOAD_FAILED',
        flood: 'SIDECAR_ERR_RELOAD_FAILED',
      };
      for (const next of ['silent', 'trickle', 'not-a-workload', 'flood'] as const) {
        mode = next;
        const r = replica('web', { kubeconfig: config, action: { timeoutMs: 1_000 } });
        await r.target.onFirstRender();
        r.state.versions['vault:secret/app'] = kv(2);
        expect(await codeOf(r.target.fire()), next).toBe(expected[next]);
      }
      // An answer without a resourceVersion is never patched against: the patch would be unconditional.
      expect(patches).toBe(0);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('restarts a StatefulSet and a DaemonSet the same way', async () => {
    const template = { metadata: { labels: { app: 'db' } }, spec: { containers: [{ name: 'db', image: 'registry.example/db:1' }] } };
    await kube.apiOk('POST', `/apis/apps/v1/namespaces/${NS}/statefulsets`, {
      metadata: { name: 'db' },
      spec: { serviceName: 'db', selector: { matchLabels: { app: 'db' } }, template },
    });
    await kube.apiOk('POST', `/apis/apps/v1/namespaces/${NS}/daemonsets`, {
      metadata: { name: 'agent' },
      spec: { selector: { matchLabels: { app: 'db' } }, template },
    });
    for (const [workload, name, plural] of [
      ['StatefulSet', 'db', 'statefulsets'],
      ['DaemonSet', 'agent', 'daemonsets'],
    ] as const) {
      const r = replica(name, { action: { workload } });
      await r.target.onFirstRender();
      r.state.versions['vault:secret/app'] = kv(2);
      expect(await r.target.fire()).toBe(`rollout restart of ${workload.toLowerCase()} ${NS}/${name}`);
      const stored = await kube.apiOk('GET', `/apis/apps/v1/namespaces/${NS}/${plural}/${name}`);
      expect((stored['metadata'] as { generation: number }).generation).toBe(2);
      expect(JSON.stringify(stored)).toContain(ROLLOUT_ANNOTATION);
    }
  });

  it('keeps version ids that look like paths or templates out of the annotation as text', async () => {
    const name = await createDeployment();
    const r = replica(name);
    r.state.versions = { 'aws:app/db': { id: '../../etc/passwd', order: [1] } };
    await r.target.onFirstRender();
    r.state.versions = { 'aws:app/db': { id: '{{ secret "vault:x" }}', order: [2] } };
    await r.target.fire();
    const { annotation, json } = await deployment(name);
    expect(json).not.toContain('{{');
    expect(json).not.toContain('../');
    expect(Object.values(JSON.parse(annotation ?? '{}') as Record<string, string>)[0]).toMatch(/^2:~[0-9a-f]{16}$/);
  });

  it('refuses a template that reads a secret without a version, naming it, and warns about dynamic secrets', async () => {
    const name = await createDeployment();
    const r = replica(name);
    r.state.extra = [{ label: 'file:secrets.json', template: 'app.tpl', source: undefined, dynamic: false }];
    let error: SidecarError | undefined;
    await r.target.onFirstRender().catch((e: SidecarError) => (error = e));
    expect(error?.code).toBe('SIDECAR_ERR_ROLLOUT_UNVERSIONED');
    expect(error?.message).toContain('file:secrets.json');

    const mixed = replica(name);
    mixed.state.extra = [{ label: 'vault:database/creds/app', template: 'app.tpl', source: undefined, dynamic: true }];
    await mixed.target.onFirstRender();
    expect(mixed.capture.records().find((l) => String(l['msg']).includes('mixes per-pod dynamic secrets'))?.['dynamic']).toEqual(['vault:database/creds/app']);
  });
});
