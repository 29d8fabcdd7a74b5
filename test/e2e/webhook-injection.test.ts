import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canary } from '../support/canary.js';
import { makeDiskDir, removeDir } from '../support/dirs.js';
import { startKubeControlPlane, type KubeControlPlane } from '../support/kube-control-plane.js';
import { makeServingCertificate, WebhookProcess, webhookCall } from '../support/webhook.js';
import { readFileSync } from 'node:fs';

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

async function startWebhook(): Promise<void> {
  webhook = new WebhookProcess(configFile);
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

const inject = (config = 'web-secrets', more: Record<string, string> = {}) => ({ 'secrets-sidecar.io/inject': 'true', 'secrets-sidecar.io/config': config, ...more });

async function createPod(pod: Json, query = ''): Promise<{ status: number; body: Json }> {
  const answer = await cp.api('POST', `/api/v1/namespaces/${NS}/pods${query}`, pod);
  return { status: answer.status, body: (answer.body ?? {}) as Json };
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

describe('the injecting webhook, through a real API server', () => {
  it('native mode: an init container with restartPolicy Always and a startupProbe, volumes, read-only mounts, restricted', async () => {
    const created = await createPod(appPod('native', inject()));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const pod = await cp.apiOk('GET', `/api/v1/namespaces/${NS}/pods/native`) as Json;
    console.log(JSON.stringify(pod.spec, null, 1));
  });
});
