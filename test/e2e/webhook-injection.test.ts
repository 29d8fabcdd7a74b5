import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canary } from '../support/canary.js';
import { makeDiskDir, removeDir } from '../support/dirs.js';
import { startKubeControlPlane, type KubeControlPlane } from '../support/kube-control-plane.js';
import { makeServingCertificate, WebhookProcess, webhookCall } from '../support/webhook.js';
import { mkdirSync, readFileSync, rmdirSync, existsSync, statSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import { CLI } from '../support/cli.js';
import { httpCall } from '../support/http.js';
import { expectNoSecrets } from '../support/leaks.js';
import { appRoleCredentials, freePort, startOpenBao } from '../support/openbao.js';

/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return -- untyped Kubernetes JSON (see Json) */

/*
 * The webhook from the built CLI, on loopback, registered with a real API server by clientConfig.url; pods are
 * created in a namespace that enforces PodSecurity restricted, so every stored pod also passed that check.
 */

const OWN = 'secrets-sidecar';
const NS = 'apps';
const IMAGE = 'registry.example/secrets-sidecar:0.2.0';
const PASSWORD = canary('webhook-db-password');
const SIDECAR_HCL = `backend "file" "local" {
  path = "secrets.json"
}

template {
  source      = "app.env.hbs"
  destination = "/run/secrets-sidecar/app.env"
}
`;
const KUBE_AUTH_HCL = `backend "vault" "main" {
  address = "https://vault.example:8200"
  auth "kubernetes" {
    role = "web"
  }
}

template {
  contents    = "{{secret \\"main:secret/web#password\\"}}"
  destination = "/run/secrets-sidecar/password"
}

notify "web" {
  process = "^nginx: master"
}
`;

let cp: KubeControlPlane;
let dir: string;
let webhook: WebhookProcess;
let port: number;
let ca: Buffer;
let configFile: string;

// Kubernetes objects are deep JSON, checked here field by field by the assertions themselves.
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function writeWebhookConfig(failurePolicy: 'Fail' | 'Ignore', extra = ''): Promise<void> {
  const tls = { cert: join(dir, 'webhook.crt'), key: join(dir, 'webhook.key') };
  await writeFile(
    configFile,
    `log_level = "debug"
webhook {
  address        = "127.0.0.1:0"
  tls_cert_file  = "${tls.cert}"
  tls_key_file   = "${tls.key}"
  tls_reload_interval = "200ms"
  image          = "${IMAGE}"
  namespace      = "${OWN}"
  failure_policy = "${failurePolicy}"
${extra}
  kubernetes {
    server     = "${cp.server}"
    ca_file    = "${cp.caFile}"
    token_file = "${join(dir, 'sa-token')}"
  }
}
`,
  );
}

/** As the chart runs it: V8's young generation capped (2 MiB semi-spaces) keeps RSS about 8 MiB lower at the same p99. */
const DEPLOYED_NODE_OPTIONS = '--max-semi-space-size=2';

async function startWebhook(): Promise<void> {
  webhook = new WebhookProcess(configFile, { NODE_OPTIONS: DEPLOYED_NODE_OPTIONS });
  port = await webhook.port();
}

async function register(failurePolicy: 'Fail' | 'Ignore'): Promise<void> {
  const body = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: 'secrets-sidecar' },
    webhooks: [
      {
        name: 'inject.secrets-sidecar.io',
        clientConfig: { url: `https://127.0.0.1:${port}/mutate`, caBundle: ca.toString('base64') },
        rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
        failurePolicy,
        sideEffects: 'None',
        admissionReviewVersions: ['v1'],
        timeoutSeconds: 10,
        namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [OWN] }] },
      },
    ],
  };
  const existing = await cp.api('GET', '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/secrets-sidecar');
  if (existing.status === 200) {
    const metadata = existing.body!['metadata'] as Json;
    await cp.apiOk('PUT', '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/secrets-sidecar', {
      ...body,
      metadata: { ...body.metadata, resourceVersion: metadata['resourceVersion'] },
    });
  } else {
    await cp.apiOk('POST', '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations', body);
  }
}

const restricted = { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } };

function appPod(name: string, annotations: Record<string, string>, spec: Json = {}): Json {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, annotations },
    spec: {
      securityContext: { runAsNonRoot: true, runAsUser: 2000, runAsGroup: 3000, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        { name: 'app', image: 'example/app:1', securityContext: restricted },
        { name: 'metrics', image: 'example/metrics:1', securityContext: restricted },
      ],
      ...spec,
    },
  };
}

const inject = (config = 'web-secrets', more: Record<string, string> = {}) => ({
  'secrets-sidecar.io/inject': 'true',
  'secrets-sidecar.io/config': config,
  ...more,
});

async function createPod(pod: Json, query = ''): Promise<{ status: number; body: Json }> {
  const answer = await cp.api('POST', `/api/v1/namespaces/${NS}/pods${query}`, pod);
  return { status: answer.status, body: answer.body ?? {} };
}

/** The API server picks up a webhook configuration change a moment later: probe with dry-run pods until it does. */
async function untilAdmission(check: (answer: { status: number; body: Json }) => boolean, what: string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const answer = await createPod(appPod(`probe-${attempt}`, inject()), '?dryRun=All');
    if (check(answer)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the API server never started to ${what}`);
}
const injected = (answer: { status: number; body: Json }) =>
  answer.status === 201 && (answer.body['spec']['initContainers'] ?? []).some((c: Json) => c['name'] === 'secrets-sidecar');

const MOUNTS = {
  secrets: { name: 'secrets-sidecar-secrets', mountPath: '/run/secrets-sidecar' },
  config: { name: 'secrets-sidecar-config', mountPath: '/etc/secrets-sidecar', readOnly: true },
  cache: { name: 'secrets-sidecar-cache', mountPath: '/var/cache/secrets-sidecar' },
};
const SECURITY = {
  runAsNonRoot: true,
  runAsUser: 2000,
  runAsGroup: 3000,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};
const PROBE = (path: string, periodSeconds: number, failureThreshold: number) => ({
  httpGet: { path, port: 9102, scheme: 'HTTP' },
  timeoutSeconds: 2,
  periodSeconds,
  failureThreshold,
  successThreshold: 1,
});
const RUN_ARGS = ['run', '-c', '/etc/secrets-sidecar/sidecar.hcl', '--listen', '$(SECRETS_SIDECAR_POD_IP):9102', '--cache-dir', '/var/cache/secrets-sidecar'];
const ONCE_ARGS = ['once', '-c', '/etc/secrets-sidecar/sidecar.hcl', '--cache-dir', '/var/cache/secrets-sidecar'];
const VOLUMES = [
  { name: 'secrets-sidecar-secrets', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
  { name: 'secrets-sidecar-config', configMap: { name: 'web-secrets', defaultMode: 420 } },
  { name: 'secrets-sidecar-cache', emptyDir: { medium: 'Memory', sizeLimit: '4Mi' } },
];

beforeAll(async () => {
  dir = await makeDiskDir('webhook-');
  configFile = join(dir, 'webhook.hcl');
  cp = await startKubeControlPlane();
  await cp.createNamespace(OWN);
  await cp.createServiceAccount(OWN, 'webhook');
  await cp.apiOk('POST', '/apis/rbac.authorization.k8s.io/v1/clusterroles', {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: 'secrets-sidecar-webhook' },
    rules: [
      { apiGroups: [''], resources: ['configmaps'], verbs: ['get'] },
      { apiGroups: [''], resources: ['pods'], verbs: ['list'] },
    ],
  });
  await cp.apiOk('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: 'secrets-sidecar-webhook' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'secrets-sidecar-webhook' },
    subjects: [{ kind: 'ServiceAccount', name: 'webhook', namespace: OWN }],
  });
  await writeFile(join(dir, 'sa-token'), await cp.serviceAccountToken(OWN, 'webhook'));
  await cp.createNamespace(NS, { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest' });
  const configMap = (name: string, data: Record<string, string>) =>
    cp.apiOk('POST', `/api/v1/namespaces/${NS}/configmaps`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data });
  await configMap('web-secrets', {
    'sidecar.hcl': SIDECAR_HCL,
    'app.env.hbs': 'PASSWORD={{secret "local:db#password"}}\n',
    'secrets.json': JSON.stringify({ db: { password: PASSWORD } }),
  });
  await configMap('kube-auth', { 'sidecar.hcl': KUBE_AUTH_HCL });
  await configMap('no-key', { 'other.hcl': SIDECAR_HCL });
  await configMap('broken', { 'sidecar.hcl': 'backend "file" "local" {\n  path = \n}\n' });
  await configMap('outside', { 'sidecar.hcl': SIDECAR_HCL.replace('/run/secrets-sidecar/app.env', '/etc/passwd') });
  // Near the API server's 1 MiB cap: a long comment, then a good config.
  await configMap('huge', { 'sidecar.hcl': `# ${'x'.repeat(1000)}\n`.repeat(1000) + SIDECAR_HCL, 'app.env.hbs': 'x', 'secrets.json': '{}' });

  const tls = makeServingCertificate(dir);
  ca = readFileSync(tls.cert);
  await writeFile(join(dir, 'webhook.key.orig'), readFileSync(tls.key));
  await writeWebhookConfig('Fail');
  await startWebhook();
  await register('Fail');
  await untilAdmission(injected, 'call the webhook');
}, 120_000);

afterAll(async () => {
  await webhook?.stop();
  await cp?.stop();
  await removeDir(dir);
});

const getPod = async (name: string): Promise<Json> => await cp.apiOk('GET', `/api/v1/namespaces/${NS}/pods/${name}`);
const named = (list: Json[] | undefined, name: string): Json | undefined => (list ?? []).find((item) => item['name'] === name);
/** Our mounts, in order, without the service-account volume the API server adds. */
const ours = (container: Json | undefined): Json[] => (container?.['volumeMounts'] ?? []).filter((m: Json) => !String(m['name']).startsWith('kube-api-access'));
const ourVolumes = (pod: Json): Json[] => pod['spec']['volumes'].filter((v: Json) => !String(v['name']).startsWith('kube-api-access'));

async function refusal(pod: Json): Promise<string> {
  const answer = await createPod(pod);
  expect(answer.status, JSON.stringify(answer.body)).toBe(400);
  return String(answer.body['message']);
}

/** The pid of a process's child (the shell's current command), if it has one. */
function childOf(pid: number): number | undefined {
  const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
  return text === '' ? undefined : Number(text.split(' ')[0]);
}

/**
 * The port the injected lines' 9102 becomes when run here: a free one, since other tests of the suite run sidecars
 * on loopback at the same time.
 */
let probePort = 0;

/** Asks the injected sidecar's /readyz until it answers 200 or the shell running it exits (bounded). */
async function readyOnProbePort(child: ChildProcess): Promise<number> {
  let ready = 0;
  for (let attempt = 0; attempt < 300 && ready !== 200 && child.exitCode === null; attempt++) {
    ready = (await httpCall(probePort, 'GET', '/readyz').catch(() => ({ status: 0 }))).status;
    if (ready !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return ready;
}

/**
 * Runs a classic pod's injected lines as the kubelet would, in a private mount namespace, as the app's user: the
 * ConfigMap at /etc/secrets-sidecar, in-memory volumes with an emptyDir's 0777 root for the secrets and the cache;
 * the init container's `once`, then the sidecar's `run`, started again `restarts` times after it dies (a
 * container restart). The pod's IP is loopback here, and its probe port a free one.
 */
async function runInjected(pod: Json, configMap: string, restarts: number, body: (child: ChildProcess, stderr: () => string) => Promise<void>): Promise<void> {
  const init = pod['spec']['initContainers'][0] as Json;
  const sidecar = pod['spec']['containers'][0] as Json;
  probePort = await freePort();
  const expand = (args: string[]) => args.map((a) => a.replace('$(SECRETS_SIDECAR_POD_IP):9102', `127.0.0.1:${probePort}`)).join(' ');
  const configMapDir = join(dir, `configmap-${configMap}`);
  mkdirSync(configMapDir);
  const data = ((await cp.apiOk('GET', `/api/v1/namespaces/${NS}/configmaps/${configMap}`)) as Json)['data'] as Record<string, string>;
  for (const [key, text] of Object.entries(data)) await writeFile(join(configMapDir, key), text);
  const mountPoints = ['/etc/secrets-sidecar', '/run/secrets-sidecar', '/var/cache/secrets-sidecar'].filter((p) => !existsSync(p));
  for (const p of mountPoints) mkdirSync(p);
  const user = `setpriv --reuid ${init['securityContext']['runAsUser']} --regid ${init['securityContext']['runAsGroup']} --clear-groups`;
  const cli = `${user} ${process.execPath} ${CLI}`;
  const script = [
    'set -e',
    'mount --make-rprivate /',
    'mount -t tmpfs -o mode=0755 tmpfs /etc/secrets-sidecar',
    `cp ${configMapDir}/* /etc/secrets-sidecar/`,
    'mount -t tmpfs -o mode=0777 tmpfs /run/secrets-sidecar',
    'mount -t tmpfs -o mode=0777 tmpfs /var/cache/secrets-sidecar',
    `${cli} ${expand(init['args'])}`,
    ...Array.from({ length: restarts }, () => `${cli} ${expand(sidecar['args'])} || true`),
    `exec ${cli} ${expand(sidecar['args'])}`,
  ].join('\n');
  const child = spawn('unshare', ['-m', 'sh', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const closed = new Promise((resolve) => child.on('close', resolve));
  try {
    await body(child, () => stderr);
  } finally {
    if (child.exitCode === null) {
      // The shell's current command first: a `run` killed with the shell alone would outlive the test.
      const current = childOf(child.pid!);
      if (current !== undefined) process.kill(current, 'SIGKILL');
      child.kill('SIGKILL');
    }
    await closed;
    for (const p of mountPoints) rmdirSync(p);
  }
}

describe('the injecting webhook, through a real API server', () => {
  it('native mode: an init container with restartPolicy Always and a startupProbe, volumes, read-only mounts, restricted', async () => {
    const created = await createPod(appPod('native', inject()));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const pod = await getPod('native');
    expect(pod['metadata']['annotations']['secrets-sidecar.io/status']).toBe('injected');
    expect(pod['spec']['initContainers']).toHaveLength(1);
    const sidecar = pod['spec']['initContainers'][0] as Json;
    expect(sidecar).toMatchObject({
      name: 'secrets-sidecar',
      image: IMAGE,
      args: RUN_ARGS,
      restartPolicy: 'Always',
      ports: [{ name: 'sidecar-http', containerPort: 9102, protocol: 'TCP' }],
      env: [{ name: 'SECRETS_SIDECAR_POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }],
      resources: { requests: { cpu: '10m', memory: '48Mi' }, limits: { memory: '128Mi' } },
    });
    expect(sidecar['startupProbe']).toEqual(PROBE('/readyz', 1, 300));
    expect(sidecar['readinessProbe']).toEqual(PROBE('/readyz', 10, 3));
    expect(sidecar['livenessProbe']).toEqual(PROBE('/healthz', 10, 6));
    expect(sidecar['securityContext']).toEqual(SECURITY);
    expect(ours(sidecar)).toEqual([MOUNTS.secrets, MOUNTS.config, MOUNTS.cache]);
    expect(pod['spec']['containers'].map((c: Json) => c['name'])).toEqual(['app', 'metrics']);
    for (const app of pod['spec']['containers'] as Json[]) {
      expect(ours(app)).toEqual([{ ...MOUNTS.secrets, readOnly: true }]);
      expect(app['securityContext']).toEqual(restricted);
    }
    expect(ourVolumes(pod)).toEqual(VOLUMES);
    expect(pod['spec']['shareProcessNamespace']).toBeUndefined();
  });

  it('classic sidecar mode: a `once` init container, then a `run` container with probes; only the named containers mounted; resources overridden', async () => {
    const annotations = inject('web-secrets', {
      'secrets-sidecar.io/mode': 'sidecar',
      'secrets-sidecar.io/containers': 'app',
      'secrets-sidecar.io/memory-limit': '256Mi',
      'secrets-sidecar.io/cpu-request': '50m',
    });
    // The user and group come from the container when it sets them, over the pod's.
    const pod0 = appPod('classic', annotations);
    pod0['spec']['containers'][0]['securityContext'] = { ...restricted, runAsUser: 4000 };
    expect((await createPod(pod0)).status).toBe(201);
    const pod = await getPod('classic');
    const path = MOUNTS.secrets;
    const resources = { requests: { cpu: '50m', memory: '48Mi' }, limits: { memory: '256Mi' } };
    const security = { ...SECURITY, runAsUser: 4000 };

    const init = pod['spec']['initContainers'] as Json[];
    expect(init.map((c) => c['name'])).toEqual(['secrets-sidecar-init']);
    expect(init[0]).toMatchObject({ image: IMAGE, args: ONCE_ARGS, resources });
    for (const absent of ['restartPolicy', 'startupProbe', 'readinessProbe', 'livenessProbe', 'ports']) expect(init[0]).not.toHaveProperty(absent);
    expect(init[0]!['securityContext']).toEqual(security);
    expect(ours(init[0])).toEqual([path, MOUNTS.config, MOUNTS.cache]);

    const containers = pod['spec']['containers'] as Json[];
    expect(containers.map((c) => c['name'])).toEqual(['secrets-sidecar', 'app', 'metrics']);
    expect(containers[0]).toMatchObject({ args: RUN_ARGS, resources, readinessProbe: PROBE('/readyz', 10, 3), livenessProbe: PROBE('/healthz', 10, 6) });
    expect(containers[0]).not.toHaveProperty('startupProbe');
    expect(containers[0]!['securityContext']).toEqual(security);
    expect(ours(containers[0])).toEqual([path, MOUNTS.config, MOUNTS.cache]);
    expect(ours(containers[1])).toEqual([{ ...path, readOnly: true }]);
    expect(ours(containers[2])).toEqual([]);
  });

  it("the pod's own init container named in containers gets the secrets read-only, after the sidecar; containers of other users are refused", async () => {
    const pod0 = appPod('own-init', inject('web-secrets', { 'secrets-sidecar.io/containers': 'app,migrate' }), {
      initContainers: [{ name: 'migrate', image: 'example/migrate:1', securityContext: restricted }],
    });
    expect((await createPod(pod0)).status).toBe(201);
    const init = (await getPod('own-init'))['spec']['initContainers'] as Json[];
    expect(init.map((c) => c['name'])).toEqual(['secrets-sidecar', 'migrate']);
    expect(ours(init[1])).toEqual([{ ...MOUNTS.secrets, readOnly: true }]);

    const mixed = appPod('mixed-users', inject());
    mixed['spec']['containers'][1]['securityContext'] = { ...restricted, runAsUser: 5000 };
    expect(await refusal(mixed)).toMatch(
      /secrets-sidecar\.io\/containers: containers "app" \(runAsUser 2000\) and "metrics" \(runAsUser 5000\) run as different users/,
    );
  });

  it('init-only mode for a Job: its pod gets `once` in an init container and nothing that outlives the app', async () => {
    const job = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'migrate' },
      spec: { template: appPod('ignored', inject('web-secrets', { 'secrets-sidecar.io/mode': 'init-only' })) },
    };
    job.spec.template['spec']['restartPolicy'] = 'Never';
    delete job.spec.template['apiVersion'];
    delete job.spec.template['kind'];
    const stored = (await cp.apiOk('POST', `/apis/batch/v1/namespaces/${NS}/jobs`, job)) as Json;
    // No controller manager runs here: make the pod the Job controller would, from its template.
    const template = stored['spec']['template'] as Json;
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'migrate-abcde',
        labels: template['metadata']['labels'],
        annotations: template['metadata']['annotations'],
        ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: 'migrate', uid: stored['metadata']['uid'], controller: true, blockOwnerDeletion: true }],
      },
      spec: template['spec'],
    };
    expect((await createPod(pod)).status).toBe(201);
    const got = await getPod('migrate-abcde');
    const init = got['spec']['initContainers'] as Json[];
    expect(init.map((c) => c['name'])).toEqual(['secrets-sidecar']);
    expect(init[0]).toMatchObject({ args: ONCE_ARGS });
    for (const absent of ['restartPolicy', 'startupProbe', 'readinessProbe', 'livenessProbe', 'ports']) expect(init[0]).not.toHaveProperty(absent);
    expect(got['spec']['containers'].map((c: Json) => c['name'])).toEqual(['app', 'metrics']);
    expect(got['spec']['restartPolicy']).toBe('Never');
  });

  it('a config that signals a process and logs in with Kubernetes auth: shared process namespace, a projected token with the audience', async () => {
    expect((await createPod(appPod('kube-auth', inject('kube-auth')))).status).toBe(201);
    const pod = await getPod('kube-auth');
    expect(pod['spec']['shareProcessNamespace']).toBe(true);
    expect(named(pod['spec']['volumes'], 'secrets-sidecar-token')).toEqual({
      name: 'secrets-sidecar-token',
      projected: { sources: [{ serviceAccountToken: { audience: 'vault', expirationSeconds: 3600, path: 'token' } }], defaultMode: 420 },
    });
    const sidecar = named(pod['spec']['initContainers'], 'secrets-sidecar');
    expect(named(sidecar?.['volumeMounts'], 'secrets-sidecar-token')).toEqual({
      name: 'secrets-sidecar-token',
      mountPath: '/var/run/secrets/kubernetes.io/serviceaccount',
      readOnly: true,
    });
    // Only the sidecar gets it.
    for (const app of pod['spec']['containers'] as Json[]) expect(named(app['volumeMounts'], 'secrets-sidecar-token')).toBeUndefined();
  });

  it('leaves a pod without the annotation, or with inject "false", untouched', async () => {
    for (const [name, annotations] of [
      ['plain', {}],
      ['opted-out', { 'secrets-sidecar.io/inject': 'false', 'secrets-sidecar.io/config': 'web-secrets' }],
    ] as const) {
      expect((await createPod(appPod(name, annotations))).status).toBe(201);
      const pod = await getPod(name);
      expect(pod['spec']['initContainers']).toBeUndefined();
      expect(pod['spec']['containers'].map((c: Json) => c['name'])).toEqual(['app', 'metrics']);
      expect(ourVolumes(pod)).toEqual([]);
      expect(pod['metadata']['annotations']?.['secrets-sidecar.io/status']).toBeUndefined();
    }
  });

  it('leaves an already injected pod untouched: by its status annotation, or a sidecar written by hand', async () => {
    const first = await createPod(appPod('again', inject()), '?dryRun=All');
    const again = first.body;
    delete again['metadata']['creationTimestamp'];
    delete again['metadata']['uid'];
    const second = await createPod(again);
    expect(second.status, JSON.stringify(second.body)).toBe(201);
    const pod = await getPod('again');
    expect(pod['spec']['initContainers'].filter((c: Json) => c['name'] === 'secrets-sidecar')).toHaveLength(1);
    expect(ourVolumes(pod).map((v) => v['name'])).toEqual(VOLUMES.map((v) => v['name']));

    const byHand = appPod('by-hand', inject());
    byHand['spec']['containers'].push({ name: 'secrets-sidecar', image: IMAGE, securityContext: restricted });
    expect((await createPod(byHand)).status).toBe(201);
    const handPod = await getPod('by-hand');
    expect(handPod['spec']['initContainers']).toBeUndefined();
    expect(ourVolumes(handPod)).toEqual([]);
  });

  it('refuses bad annotations and configs with a message naming the annotation, and stores nothing', async () => {
    const cases: [Record<string, string>, RegExp][] = [
      [inject('web-secrets', { 'secrets-sidecar.io/mode': 'daemon' }), /secrets-sidecar\.io\/mode: "daemon" is not one of native, sidecar, init-only/],
      [{ ...inject(), 'secrets-sidecar.io/inject': 'yes' }, /secrets-sidecar\.io\/inject: "yes" is not "true" or "false"/],
      [inject('web-secrets', { 'secrets-sidecar.io/mdoe': 'native' }), /secrets-sidecar\.io\/mdoe: unknown annotation/],
      [
        inject('web-secrets', { 'secrets-sidecar.io/secrets-path': '/run/../etc/shadow' }),
        /secrets-sidecar\.io\/secrets-path: .* may not hold "\." or "\.\." segments/,
      ],
      [
        inject('web-secrets', { 'secrets-sidecar.io/secrets-path': 'relative/path' }),
        /secrets-sidecar\.io\/secrets-path: "relative\/path" is not an absolute path/,
      ],
      [
        inject('web-secrets', { 'secrets-sidecar.io/secrets-path': '/etc/secrets-sidecar/x' }),
        /secrets-sidecar\.io\/secrets-path: .* overlaps \/etc\/secrets-sidecar/,
      ],
      [
        inject('web-secrets', { 'secrets-sidecar.io/secrets-path': '/run/x\nINJECTED: line' }),
        /secrets-sidecar\.io\/secrets-path: "\/run\/x\\nINJECTED: line" is not/,
      ],
      [inject('web-secrets', { 'secrets-sidecar.io/containers': 'app,nope' }), /secrets-sidecar\.io\/containers: "nope" is not a container of this pod/],
      [
        inject('web-secrets', { 'secrets-sidecar.io/memory-limit': '100Gi' }),
        /secrets-sidecar\.io\/memory-limit: 100Gi is more than the webhook allows \(512Mi\)/,
      ],
      [inject('web-secrets', { 'secrets-sidecar.io/cpu-limit': '1; rm -rf /' }), /secrets-sidecar\.io\/cpu-limit: "1; rm -rf \/" is not a cpu quantity/],
      [
        inject('web-secrets', { 'secrets-sidecar.io/memory-request': '200Mi' }),
        /secrets-sidecar\.io\/memory-request: the memory request \(200Mi\) is more than its limit \(128Mi\)/,
      ],
      [inject('../kube-system/x'), /secrets-sidecar\.io\/config: "\.\.\/kube-system\/x" is not a ConfigMap name/],
      [{ 'secrets-sidecar.io/inject': 'true' }, /secrets-sidecar\.io\/config: required with inject/],
      [inject('missing'), /secrets-sidecar\.io\/config: ConfigMap "missing" does not exist in namespace "apps"/],
      [inject('no-key'), /secrets-sidecar\.io\/config: ConfigMap "no-key" has no key "sidecar\.hcl"/],
      [
        inject('broken'),
        /secrets-sidecar\.io\/config: ConfigMap "broken" key sidecar\.hcl is not a valid config \(SIDECAR_ERR_CONFIG_SYNTAX\): \/etc\/secrets-sidecar\/sidecar\.hcl:2:\d+: syntax error/,
      ],
      [
        inject('outside'),
        /secrets-sidecar\.io\/config: sidecar\.hcl writes "\/etc\/passwd", outside the secrets volume at \/run\/secrets-sidecar \(secrets-sidecar\.io\/secrets-path\)/,
      ],
    ];
    for (const [i, [annotations, message]] of cases.entries()) {
      const text = await refusal(appPod(`bad-${i}`, annotations));
      expect(text).toMatch(message);
      expect(text).not.toContain('\n');
      expect((await cp.api('GET', `/api/v1/namespaces/${NS}/pods/bad-${i}`)).status).toBe(404);
    }
  });

  it("measures: admission p99 over 200 admissions through the API server, and the webhook's memory", async () => {
    const mark = webhook.records.length;
    const rssBefore = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${webhook.child.pid}/status`, 'utf8'))?.[1]);
    const roundTrips: number[] = [];
    for (let i = 0; i < 200; i++) {
      const started = performance.now();
      const answer = await createPod(appPod(`measure-${i}`, inject()), '?dryRun=All');
      roundTrips.push(performance.now() - started);
      expect(injected(answer)).toBe(true);
    }
    const own = webhook.records
      .slice(mark)
      .filter((r) => r.msg === 'admission' && r['outcome'] === 'injected')
      .map((r) => Number(r['ms']));
    expect(own).toHaveLength(200);
    const p99 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.ceil(values.length * 0.99) - 1]!;
    const status = readFileSync(`/proc/${webhook.child.pid}/status`, 'utf8');
    const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1]);
    const figures = {
      apiServerRoundTripP99Ms: Math.round(p99(roundTrips)),
      webhookP99Ms: p99(own),
      rssBeforeMiB: Math.round(rssBefore / 1024),
      rssMiB: Math.round(kib('VmRSS') / 1024),
      peakRssMiB: Math.round(kib('VmHWM') / 1024),
    };
    console.log(`webhook figures: ${JSON.stringify(figures)}`);
    // The 100 ms target is measured on an idle machine (README, "Injecting into pods"); inside the whole suite the
    // two cores are shared with every other test, so this bound is the API server's own: well inside its 10 s.
    expect(figures.apiServerRoundTripP99Ms).toBeLessThanOrEqual(2_000);
    expect(figures.peakRssMiB).toBeLessThanOrEqual(80);
  });

  it('injects a pod with 300 containers, and one whose ConfigMap is near the 1 MiB cap, well inside the time limit', async () => {
    const many = appPod('many', inject());
    many['spec']['containers'] = Array.from({ length: 300 }, (_, i) => ({ name: `c${i}`, image: 'example/app:1', securityContext: restricted }));
    let started = performance.now();
    expect((await createPod(many)).status).toBe(201);
    expect(performance.now() - started).toBeLessThan(5_000);
    const pod = await getPod('many');
    expect(pod['spec']['containers'].every((c: Json) => ours(c).length === 1)).toBe(true);

    started = performance.now();
    expect((await createPod(appPod('huge-config', inject('huge')))).status).toBe(201);
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('answers hostile requests sent straight to it with a clear status, and keeps serving', async () => {
    const post = (body: string | Buffer, headers: Record<string, string> = {}) => webhookCall(port, ca, 'POST', '/mutate', body, headers);
    expect(await post('{"apiVersion": "admission.k8s.io/v1", "kind": ')).toMatchObject({ status: 400, body: '{"error":"the body is not JSON"}' });
    expect((await post('{"kind":"Pod"}')).status).toBe(400);
    expect((await post('{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":""}}')).status).toBe(400);
    // Refused without reading it all: a 413, or the connection closed while the client still writes.
    for (const headers of [{}, { 'transfer-encoding': 'chunked' }]) {
      const answer = await post(Buffer.alloc(7 * 1024 * 1024, 0x20), headers).catch((error: NodeJS.ErrnoException) => ({ status: error.code, body: '' }));
      expect([413, 'ECONNRESET', 'EPIPE']).toContain(answer.status);
    }
    expect((await webhookCall(port, ca, 'GET', '/mutate')).status).toBe(404);

    // Four large reviews held open take the buffer budget: a fifth is turned away with 503, not buffered.
    const flushed: Promise<void>[] = [];
    const held = Array.from({ length: 4 }, () => {
      const req = httpsRequest({ host: '127.0.0.1', port, method: 'POST', path: '/mutate', ca, agent: false, headers: { 'content-type': 'application/json' } });
      req.on('error', () => undefined); // the test destroys them
      flushed.push(new Promise((resolve) => req.write(Buffer.alloc(5.5 * 1024 * 1024, 0x20), () => resolve())));
      return req;
    });
    await Promise.all(flushed);
    try {
      let status: number | string = 0;
      for (let attempt = 0; attempt < 50 && status !== 503; attempt++) {
        status = (await post(Buffer.alloc(5.5 * 1024 * 1024, 0x20)).catch((error: NodeJS.ErrnoException) => ({ status: error.code ?? '' }))).status;
      }
      expect(status).toBe(503);
    } finally {
      for (const req of held) req.destroy();
    }
    // Given back when they end: a normal review is answered again.
    let after = 0;
    for (let attempt = 0; attempt < 50 && after !== 400; attempt++) after = (await post('not json')).status;
    expect(after).toBe(400);

    // 5,000 containers and an annotation full of newlines and quotes, straight to the webhook.
    const review = (pod: Json) =>
      JSON.stringify({
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: { uid: 'u-1', kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE', namespace: NS, object: pod },
      });
    const big = appPod('big', inject());
    big['spec']['containers'] = Array.from({ length: 5000 }, (_, i) => ({ name: `c${i}`, image: 'x' }));
    const answer = await post(review(big));
    expect(answer.status).toBe(200);
    const response = JSON.parse(answer.body)['response'] as Json;
    expect(response).toMatchObject({ uid: 'u-1', allowed: true, patchType: 'JSONPatch' });
    const patch = JSON.parse(Buffer.from(response['patch'], 'base64').toString()) as Json[];
    expect(patch.map((op) => `${op['op']} ${op['path']}`)).toEqual([
      'add /spec/volumes',
      'add /spec/initContainers',
      'add /spec/containers',
      'add /metadata/annotations',
    ]);
    expect(patch[2]!['value']).toHaveLength(5000);
    expect(response).not.toHaveProperty('warnings');
    // A signalled process (a shared process namespace) beside a cached Vault login: the creator is warned.
    const warned = JSON.parse((await post(review(appPod('warned', inject('kube-auth'))))).body)['response'] as Json;
    expect(warned).toMatchObject({ allowed: true, warnings: [expect.stringMatching(/shareProcessNamespace lets the app read the Vault token/)] });

    const evil = appPod('evil', inject('web-secrets', { 'secrets-sidecar.io/containers': 'app\n{"allowed":true}\r\u0000' }));
    const refused = JSON.parse((await post(review(evil))).body)['response'] as Json;
    expect(refused['allowed']).toBe(false);
    expect(refused['status']['message']).toMatch(/^secrets-sidecar\.io\/containers: "app\\n\{\\"allowed\\":true\}\\r\\u0000" is not a container/);
    // A pod that is not one: no panic, no patch.
    for (const object of [{ spec: { containers: 'no' } }, { spec: null }, { metadata: { annotations: inject() }, spec: { containers: [{}] } }]) {
      const reply = await post(review({ ...object, metadata: { annotations: inject() } }));
      expect(reply.status).toBe(200);
      expect(JSON.parse(reply.body)['response']).toMatchObject({ allowed: false });
    }
    // A container nested 200,000 levels deep: an answer (refused or failed), never a crash.
    const deep = appPod('deep', inject());
    const nested = `${'['.repeat(200_000)}${']'.repeat(200_000)}`;
    const deepReview = review(deep).replace('"image":"example/app:1"', `"image":"example/app:1","x":${nested}`);
    expect([200, 400, 500]).toContain((await post(deepReview)).status);
    expect((await webhookCall(port, ca, 'GET', '/healthz')).status).toBe(200);
  });

  it('counts admissions by outcome in /metrics', async () => {
    const text = (await webhookCall(port, ca, 'GET', '/metrics')).body;
    const count = (outcome: string) => Number(new RegExp(`secrets_sidecar_webhook_admissions_total\\{outcome="${outcome}"\\} (\\d+)`).exec(text)?.[1]);
    for (const outcome of ['injected', 'skipped', 'refused', 'error']) expect(count(outcome), outcome).toBeGreaterThan(0);
    expect(text).toContain('secrets_sidecar_webhook_admission_duration_seconds_bucket');
  });

  it('keeps serving its last good certificate when the files turn to garbage, and takes a new good pair', async () => {
    const certFile = join(dir, 'webhook.crt');
    const original = readFileSync(certFile);
    let mark = webhook.records.length;
    await writeFile(certFile, 'garbage, not a certificate\n');
    await webhook.waitFor((r) => r.msg.startsWith('new certificate files are not a usable pair'), mark);
    // The API server still verifies the webhook against the original CA bundle: the old certificate is served.
    expect(injected(await createPod(appPod('after-garbage', inject()), '?dryRun=All'))).toBe(true);
    // A key that does not belong to the certificate is refused the same way.
    const other = makeServingCertificate(dir, 'other');
    mark = webhook.records.length;
    await writeFile(certFile, readFileSync(other.cert));
    await webhook.waitFor((r) => r.msg.startsWith('new certificate files are not a usable pair'), mark);
    expect((await webhookCall(port, ca, 'GET', '/healthz')).status).toBe(200);
    // A new good pair is served from then on.
    mark = webhook.records.length;
    await writeFile(join(dir, 'webhook.key'), readFileSync(other.key));
    await webhook.waitFor((r) => r.msg === 'certificate reloaded', mark);
    expect((await webhookCall(port, readFileSync(other.cert), 'GET', '/healthz')).status).toBe(200);
    await expect(webhookCall(port, ca, 'GET', '/healthz')).rejects.toThrow();
    // Back to the pair the API server trusts.
    mark = webhook.records.length;
    await writeFile(join(dir, 'webhook.key'), readFileSync(join(dir, 'webhook.key.orig')));
    await writeFile(certFile, original);
    await webhook.waitFor((r) => r.msg === 'certificate reloaded', mark);
    expect((await webhookCall(port, ca, 'GET', '/metrics')).body).toMatch(/secrets_sidecar_webhook_certificate_reloads_total\{outcome="rejected"\} 2/);
  });

  it("the injected command lines run: `once` then `run`, with the mounts the pod would have, as the app's user, render the ConfigMap's config", async () => {
    const pod = await getPod('classic');
    await runInjected(pod, 'web-secrets', 0, async (child, stderr) => {
      expect(await readyOnProbePort(child), stderr()).toBe(200);
      const rendered = `/proc/${child.pid}/root/run/secrets-sidecar/app.env`;
      expect(readFileSync(rendered, 'utf8')).toBe(`PASSWORD=${PASSWORD}\n`);
      // Owned by the app's user and group (the container's runAsUser over the pod's), readable by the app only.
      expect(statSync(rendered)).toMatchObject({ uid: 4000, gid: 3000, mode: 0o100600 });
      child.kill('SIGTERM');
      await new Promise((resolve) => child.on('close', resolve));
      expect(child.exitCode, stderr()).toBe(0);
      expect(stderr()).not.toContain(PASSWORD);
    });
  });

  it('the injected classic lines with Vault: `once`, `run` and a kill -9 restart of `run` hand over through the cache volume: 1 login, 1 certificate', async () => {
    const bao = await startOpenBao();
    try {
      await bao.api('POST', 'sys/mounts/pki', { type: 'pki', config: { max_lease_ttl: '87600h' } });
      await bao.api('POST', 'pki/root/generate/internal', { common_name: 'injected root', ttl: '87600h' });
      await bao.api('POST', 'pki/roles/web', { allowed_domains: ['internal'], allow_subdomains: true, max_ttl: '72h' });
      await bao.api('POST', 'sys/auth/approle', { type: 'approle' });
      await bao.api('PUT', 'sys/policies/acl/web', {
        policy: 'path "pki/issue/web" {\n  capabilities = ["update"]\n}\npath "sys/internal/ui/mounts/*" {\n  capabilities = ["read"]\n}\n',
      });
      const login = await appRoleCredentials(bao, 'web', { token_policies: ['web'], token_ttl: '1h' });
      const hcl = `backend "vault" "main" {\n  address = "${bao.address}"\n  auth "approle" {\n    role_id        = "${login.roleId}"\n    secret_id_file = "secret_id"\n  }\n}\ntemplate {\n  contents    = "{{#with (secret \\"main:pki/issue/web\\" common_name=\\"app.internal\\" ttl=\\"1h\\")}}{{certificate}}\\n{{private_key}}\\n{{/with}}"\n  destination = "/run/secrets-sidecar/tls.pem"\n}\n`;
      await cp.apiOk('POST', `/api/v1/namespaces/${NS}/configmaps`, {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'vault-secrets' },
        data: { 'sidecar.hcl': hcl, secret_id: login.secretId },
      });
      const pod0 = appPod('classic-vault', inject('vault-secrets', { 'secrets-sidecar.io/mode': 'sidecar' }));
      expect((await createPod(pod0)).status).toBe(201);
      const pod = await getPod('classic-vault');
      await runInjected(pod, 'vault-secrets', 1, async (child, stderr) => {
        const tls = `/proc/${child.pid}/root/run/secrets-sidecar/tls.pem`;
        expect(await readyOnProbePort(child), stderr()).toBe(200);
        const serial = new X509Certificate(readFileSync(tls)).serialNumber;
        // The sidecar container restarts (OOM, crash) with the same volumes; the shell then execs the last `run`.
        const first = childOf(child.pid!);
        expect(first).toBeDefined();
        process.kill(first!, 'SIGKILL');
        for (let i = 0; i < 300 && childOf(child.pid!) === first; i++) await new Promise((resolve) => setTimeout(resolve, 50));
        expect(await readyOnProbePort(child), stderr()).toBe(200);
        expect(new X509Certificate(readFileSync(tls)).serialNumber).toBe(serial);
        const requests = await bao.auditedRequests();
        expect(requests.filter((r) => r.path === 'auth/approle/login')).toHaveLength(1);
        expect(requests.filter((r) => r.path === 'pki/issue/web')).toHaveLength(1);
        // Each run adopted the token once left: the cache volume's 0777 root was no obstacle.
        expect(stderr().match(/"event":"auth\.adopt","backend":"main","path":"[^"]*","outcome":"ok"/g) ?? [], stderr()).toHaveLength(2);
        const key = readFileSync(tls, 'utf8').split('PRIVATE KEY-----\n')[1]?.split('\n')[0] ?? 'no key line';
        child.kill('SIGTERM');
        await new Promise((resolve) => child.on('close', resolve));
        expect(child.exitCode, stderr()).toBe(0);
        expectNoSecrets(stderr(), [login.secretId, key]);
      });
    } finally {
      await bao.stop();
    }
  });

  it('failurePolicy: Fail refuses pods while the webhook is down, Ignore admits them uninjected, and the webhook reports those at start', async () => {
    await webhook.stop();
    const down = await createPod(appPod('while-down', inject()));
    expect(down.status).toBe(500);
    expect(String(down.body['message'])).toMatch(/failed calling webhook "inject\.secrets-sidecar\.io"/);

    await register('Ignore');
    await untilAdmission((answer) => answer.status === 201, 'let pods through with failurePolicy Ignore');
    expect((await createPod(appPod('missed', inject()))).status).toBe(201);
    expect((await getPod('missed'))['spec']['initContainers']).toBeUndefined();

    await writeWebhookConfig('Ignore');
    await startWebhook();
    const report = await webhook.waitFor((r) => r.msg.startsWith('pods ask for injection but run without the sidecar'));
    expect(report).toMatchObject({ level: 'warn', uninjected: 1, pods: [`${NS}/missed`] });
    expect((await webhookCall(port, ca, 'GET', '/metrics')).body).toMatch(/secrets_sidecar_webhook_uninjected_pods 1\n/);
    // It restarted nothing: the pod is as it was.
    expect((await getPod('missed'))['spec']['initContainers']).toBeUndefined();
    await register('Ignore');
    await untilAdmission(injected, 'call the restarted webhook');
  });
});
