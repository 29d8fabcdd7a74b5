import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IMutatingWebhookConfiguration as MutatingWebhookConfiguration } from 'kubernetes-models/admissionregistration.k8s.io/v1';
import type { IDeployment as Deployment } from 'kubernetes-models/apps/v1';
import type { IPodDisruptionBudget as PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import type { IClusterRole as ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import type { IConfigMap as ConfigMap, IPod as Pod, ISecret as Secret } from 'kubernetes-models/v1';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseWebhookConfig, type WebhookConfig } from '../../src/webhook/webhook-config.js';
import { CLI } from '../support/cli.js';
import { startKubeControlPlane, type KubeControlPlane } from '../support/kube-control-plane.js';
import { freePort } from '../support/openbao.js';
import { CHART, findManifest, helm, helmTemplate, renderChart, type Manifest } from '../support/helm.js';

const NAMESPACE = 'secrets-sidecar-system';
const FULLNAME = 'secrets-sidecar';
const CERT_MANAGER = { certificate: { certManager: { enabled: true } } };
const RESTRICTED = { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest' };

let kube: KubeControlPlane;
let work: string;
let kubeconfig: string;

beforeAll(async () => {
  kube = await startKubeControlPlane();
  work = await mkdtemp(join(tmpdir(), 'helm-chart-'));
  kubeconfig = join(work, 'kubeconfig');
  await kube.writeKubeconfig(kubeconfig);
});
afterAll(async () => {
  await kube?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

/** The API path of a rendered object (its collection, or the object itself with `name`). */
function apiPath(manifest: Manifest, withName = true): string {
  const plural: Record<string, string> = {
    ServiceAccount: 'serviceaccounts',
    ConfigMap: 'configmaps',
    Secret: 'secrets',
    Service: 'services',
    Pod: 'pods',
    Deployment: 'deployments',
    PodDisruptionBudget: 'poddisruptionbudgets',
    ClusterRole: 'clusterroles',
    ClusterRoleBinding: 'clusterrolebindings',
    RoleBinding: 'rolebindings',
    MutatingWebhookConfiguration: 'mutatingwebhookconfigurations',
  };
  const resource = plural[manifest.kind];
  if (!resource) throw new Error(`no API path known for ${manifest.kind}`);
  const group = manifest.apiVersion.includes('/') ? `/apis/${manifest.apiVersion}` : `/api/${manifest.apiVersion}`;
  const scope = manifest.metadata.namespace ? `/namespaces/${manifest.metadata.namespace}` : '';
  return `${group}${scope}/${resource}${withName ? `/${manifest.metadata.name}` : ''}`;
}

/** Server-side apply with strict field validation: an unknown or duplicated field fails, as does any admission. */
async function serverSideApply(manifest: Manifest, dryRun = false): Promise<Record<string, unknown>> {
  const query = `?fieldManager=helm-chart-test&fieldValidation=Strict&force=true${dryRun ? '&dryRun=All' : ''}`;
  return kube.apiOk('PATCH', apiPath(manifest) + query, manifest, { contentType: 'application/apply-patch+yaml' });
}

/** A pod built from the Deployment's template, as the ReplicaSet controller would create it (PodSecurity judges pods). */
function podFromTemplate(deployment: Deployment, name: string): Manifest {
  const template = deployment.spec?.template;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: deployment.metadata?.namespace ?? NAMESPACE, labels: template?.metadata?.labels ?? {} },
    spec: template?.spec,
  };
}

/** A pod that passes PodSecurity restricted, with `annotations`. */
function restrictedPod(namespace: string, name: string, annotations: Record<string, string> = {}): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, annotations },
    spec: {
      securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'app',
          image: 'registry.example/app:1.0.0',
          securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
        },
      ],
    },
  };
}

async function createPod(pod: Manifest): Promise<{ status: number; message: string }> {
  const answer = await kube.api('POST', apiPath(pod, false), pod);
  const message = answer.body?.['message'];
  return { status: answer.status, message: typeof message === 'string' ? message : '' };
}

async function getObject<T>(path: string): Promise<T> {
  return (await kube.apiOk('GET', path)) as unknown as T;
}

/** The rendered webhook config, read by the webhook's own loader (at the path the Deployment mounts it). */
async function webhookConfig(manifests: readonly Manifest[]): Promise<WebhookConfig> {
  const configMap = findManifest<ConfigMap>(manifests, 'ConfigMap');
  return parseWebhookConfig(configMap.data?.['webhook.json'] ?? '', '/etc/secrets-sidecar-webhook/webhook.json');
}

function certificates(secret: Secret): { serving: X509Certificate; ca: X509Certificate; key: string } {
  const field = (key: string) => Buffer.from(secret.data?.[key] ?? '', 'base64').toString();
  return { serving: new X509Certificate(field('tls.crt')), ca: new X509Certificate(field('ca.crt')), key: field('tls.key') };
}

describe('helm lint and helm template (no cluster)', () => {
  it('passes helm lint --strict, with the default values and with cert-manager', async () => {
    const plain = await helm(['lint', '--strict', CHART]);
    expect(plain.stdout + plain.stderr).toContain('0 chart(s) failed');
    expect(plain.status).toBe(0);
    const valuesFile = join(work, 'cert-manager.json');
    await writeFile(valuesFile, JSON.stringify(CERT_MANAGER));
    const withCertManager = await helm(['lint', '--strict', CHART, '--values', valuesFile]);
    expect(withCertManager.status, withCertManager.stdout + withCertManager.stderr).toBe(0);
  });

  it('renders two replicas spread across nodes, a disruption budget, the Service, RBAC, the config and a self-signed CA that signed the serving certificate', async () => {
    const manifests = await renderChart();
    expect(manifests.map((m) => m.kind).sort()).toEqual(
      [
        'ClusterRole',
        'ClusterRoleBinding',
        'ConfigMap',
        'Deployment',
        'MutatingWebhookConfiguration',
        'PodDisruptionBudget',
        'Secret',
        'Service',
        'ServiceAccount',
      ].sort(),
    );
    const deployment = findManifest<Deployment>(manifests, 'Deployment');
    expect(deployment.spec?.replicas).toBe(2);
    const anti = deployment.spec?.template.spec?.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution?.[0];
    expect(anti?.podAffinityTerm.topologyKey).toBe('kubernetes.io/hostname');
    expect(anti?.podAffinityTerm.labelSelector?.matchLabels).toEqual(deployment.spec?.selector.matchLabels);
    const budget = findManifest<PodDisruptionBudget>(manifests, 'PodDisruptionBudget');
    expect(budget.spec?.maxUnavailable).toBe(1);
    expect(budget.spec?.selector?.matchLabels).toEqual(deployment.spec?.selector.matchLabels);

    // The container runs the webhook command on the mounted config, and serves on the port the config names.
    const container = deployment.spec?.template.spec?.containers[0];
    expect(container?.args).toEqual(['webhook', '-c', '/etc/secrets-sidecar-webhook/webhook.json']);
    expect(container?.image).toBe('secrets-sidecar:0.1.0');
    const config = await webhookConfig(manifests);
    expect(config).toMatchObject({
      host: '0.0.0.0',
      port: 8443,
      tlsCertFile: '/tls/tls.crt',
      tlsKeyFile: '/tls/tls.key',
      image: 'secrets-sidecar:0.1.0',
      namespace: NAMESPACE,
      namespaces: [],
      excludeNamespaces: ['kube-system', 'kube-node-lease'],
      failurePolicy: 'Fail',
      logLevel: 'info',
      probePort: 9102,
      apiTimeoutMs: 3000,
      resources: { requests: { cpu: '10m', memory: '48Mi' }, limits: { memory: '128Mi' }, max: { cpu: '1', memory: '512Mi' } },
    });
    expect(config.resources.limits.cpu).toBeUndefined();
    expect(container?.ports).toEqual([{ name: 'https', containerPort: config.port, protocol: 'TCP' }]);
    const mounts = Object.fromEntries((container?.volumeMounts ?? []).map((m) => [m.name, m.mountPath]));
    expect(mounts).toMatchObject({ config: '/etc/secrets-sidecar-webhook', tls: '/tls' });

    // The MutatingWebhookConfiguration: policy from values, never its own namespace, only annotated pods.
    const webhook = findManifest<MutatingWebhookConfiguration>(manifests, 'MutatingWebhookConfiguration').webhooks?.[0];
    expect(webhook?.failurePolicy).toBe('Fail');
    expect(webhook?.sideEffects).toBe('None');
    expect(webhook?.clientConfig.service).toEqual({ name: FULLNAME, namespace: NAMESPACE, path: '/mutate', port: 443 });
    expect(webhook?.namespaceSelector?.matchExpressions).toEqual([
      { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [NAMESPACE, 'kube-system', 'kube-node-lease'] },
    ]);
    expect(webhook?.matchConditions?.[0]?.expression).toContain("startsWith('secrets-sidecar.io/')");

    // The caBundle is the CA in the Secret, and that CA signed a serving certificate for the Service's names.
    const secret = findManifest<Secret>(manifests, 'Secret');
    const { serving, ca, key } = certificates(secret);
    expect(Buffer.from(webhook?.clientConfig.caBundle ?? '', 'base64').toString()).toBe(ca.toString());
    expect(serving.verify(ca.publicKey)).toBe(true);
    expect(serving.checkHost(`${FULLNAME}.${NAMESPACE}.svc`)).toBe(`${FULLNAME}.${NAMESPACE}.svc`);
    expect(ca.ca).toBe(true);
    expect(key).toContain('PRIVATE KEY');
    const tlsVolume = deployment.spec?.template.spec?.volumes?.find((v) => v.name === 'tls');
    expect(tlsVolume?.secret?.secretName).toBe(secret.metadata?.name);

    const role = findManifest<ClusterRole>(manifests, 'ClusterRole');
    // Under failurePolicy Fail the webhook never lists pods, so it may not.
    expect(role.rules).toEqual([{ apiGroups: [''], resources: ['configmaps'], verbs: ['get'] }]);
  });

  it('with cert-manager: a self-signed Issuer, a CA Certificate and Issuer, a serving Certificate for the Service, the cainjector annotation, and no Secret of its own', async () => {
    const manifests = await renderChart(CERT_MANAGER);
    expect(manifests.find((m) => m.kind === 'Secret')).toBeUndefined();
    const certManager = manifests.filter((m) => m.apiVersion === 'cert-manager.io/v1');
    expect(certManager.map((m) => `${m.kind}/${m.metadata.name}`).sort()).toEqual([
      `Certificate/${FULLNAME}`,
      `Certificate/${FULLNAME}-ca`,
      `Issuer/${FULLNAME}-ca`,
      `Issuer/${FULLNAME}-selfsigned`,
    ]);
    for (const m of certManager) expect(m.metadata.namespace).toBe(NAMESPACE);
    const spec = (kind: string, name: string) => findManifest(manifests, kind, name)['spec'] as Record<string, unknown>;
    expect(spec('Issuer', `${FULLNAME}-selfsigned`)).toEqual({ selfSigned: {} });
    expect(spec('Certificate', `${FULLNAME}-ca`)).toMatchObject({
      isCA: true,
      secretName: `${FULLNAME}-ca`,
      issuerRef: { name: `${FULLNAME}-selfsigned`, kind: 'Issuer', group: 'cert-manager.io' },
    });
    expect(spec('Issuer', `${FULLNAME}-ca`)).toEqual({ ca: { secretName: `${FULLNAME}-ca` } });
    const serving = spec('Certificate', FULLNAME);
    // Not the self-signed Secret's name: switching issuers never makes helm adopt or delete cert-manager's Secret.
    expect(serving).toMatchObject({
      secretName: `${FULLNAME}-cert-manager-tls`,
      issuerRef: { name: `${FULLNAME}-ca`, kind: 'Issuer', group: 'cert-manager.io' },
      dnsNames: [FULLNAME, `${FULLNAME}.${NAMESPACE}`, `${FULLNAME}.${NAMESPACE}.svc`, `${FULLNAME}.${NAMESPACE}.svc.cluster.local`],
      usages: ['server auth', 'digital signature'],
    });

    const configuration = findManifest<MutatingWebhookConfiguration>(manifests, 'MutatingWebhookConfiguration');
    expect(configuration.metadata?.annotations).toEqual({ 'cert-manager.io/inject-ca-from': `${NAMESPACE}/${FULLNAME}` });
    expect(configuration.webhooks?.[0]?.clientConfig.caBundle).toBeUndefined();
    const deployment = findManifest<Deployment>(manifests, 'Deployment');
    expect(deployment.spec?.template.spec?.volumes?.find((v) => v.name === 'tls')?.secret?.secretName).toBe(`${FULLNAME}-cert-manager-tls`);

    const renewal = await helmTemplate({ certificate: { certManager: { enabled: true, duration: '24h', renewBefore: '24h' } } });
    expect(renewal.status).not.toBe(0);
    expect(renewal.stderr).toContain('certificate.certManager.renewBefore (24h) must be shorter than certificate.certManager.duration (24h)');

    // An issuer of the user's own replaces the chart's chain.
    const own = await renderChart({ certificate: { certManager: { enabled: true, issuerRef: { name: 'corp-ca', kind: 'ClusterIssuer' } } } });
    expect(own.filter((m) => m.apiVersion === 'cert-manager.io/v1').map((m) => m.kind)).toEqual(['Certificate']);
    expect((findManifest(own, 'Certificate')['spec'] as Record<string, unknown>)['issuerRef']).toEqual({ name: 'corp-ca', kind: 'ClusterIssuer' });
  });

  it('uses the chart appVersion for an empty image tag, a digest when one is set, and the injected image the config names', async () => {
    const image = async (values: unknown) => findManifest<Deployment>(await renderChart(values), 'Deployment').spec?.template.spec?.containers[0]?.image;
    expect(await image({ image: { tag: '' } })).toBe('secrets-sidecar:0.1.0');
    // `--set image.tag=2` gives a number; 0 is a tag, not "empty".
    expect(await image({ image: { tag: 2 } })).toBe('secrets-sidecar:2');
    expect(await image({ image: { tag: 0 } })).toBe('secrets-sidecar:0');
    expect(await image({ image: { repository: 'registry.example:5000/team/secrets-sidecar', tag: '0.2.0' } })).toBe(
      'registry.example:5000/team/secrets-sidecar:0.2.0',
    );
    const digest = `sha256:${'ab'.repeat(32)}`;
    expect(await image({ image: { digest } })).toBe(`secrets-sidecar@${digest}`);
    const injected = await renderChart({ injection: { image: 'registry.example/sidecar:9.9.9', imagePullPolicy: 'Always' } });
    expect(await webhookConfig(injected)).toMatchObject({ image: 'registry.example/sidecar:9.9.9', imagePullPolicy: 'Always' });
  });

  it('renders no disruption budget for one replica, and refuses a budget that lets every replica go', async () => {
    expect((await renderChart({ replicaCount: 1 })).find((m) => m.kind === 'PodDisruptionBudget')).toBeUndefined();
    expect(findManifest<PodDisruptionBudget>(await renderChart({ replicaCount: 3 }), 'PodDisruptionBudget').spec?.maxUnavailable).toBe(1);
    expect((await renderChart({ podDisruptionBudget: { enabled: false } })).find((m) => m.kind === 'PodDisruptionBudget')).toBeUndefined();
    const refused = await helmTemplate({ podDisruptionBudget: { maxUnavailable: 2 } });
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain('podDisruptionBudget.maxUnavailable (2) must be less than replicaCount (2)');
  });

  it('serves only the namespaces listed, in the selector and in the config alike, and refuses to list its own', async () => {
    const manifests = await renderChart({ webhook: { namespaces: ['team-a', 'team-b'], failurePolicy: 'Ignore' } });
    const webhook = findManifest<MutatingWebhookConfiguration>(manifests, 'MutatingWebhookConfiguration').webhooks?.[0];
    expect(webhook?.namespaceSelector?.matchExpressions).toContainEqual({ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['team-a', 'team-b'] });
    expect(webhook?.failurePolicy).toBe('Ignore');
    expect(await webhookConfig(manifests)).toMatchObject({ namespaces: ['team-a', 'team-b'], failurePolicy: 'Ignore' });
    const own = await helmTemplate({ webhook: { namespaces: ['team-a', NAMESPACE] } });
    expect(own.status).not.toBe(0);
    expect(own.stderr).toContain(`webhook.namespaces may not contain the release's own namespace "${NAMESPACE}"`);
    // Listing its own namespace among the exclusions, or none at all, still excludes it exactly once.
    for (const excludeNamespaces of [[NAMESPACE, 'kube-system'], []]) {
      const rendered = await renderChart({ webhook: { excludeNamespaces } });
      const selector = findManifest<MutatingWebhookConfiguration>(rendered, 'MutatingWebhookConfiguration').webhooks?.[0]?.namespaceSelector;
      expect(selector?.matchExpressions).toEqual([
        { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [NAMESPACE, ...excludeNamespaces.filter((n) => n !== NAMESPACE)] },
      ]);
    }
    // For clusters before 1.28, which have no match conditions: every pod in the selected namespaces is sent.
    const everyPod = await renderChart({ webhook: { matchAnnotatedOnly: false } });
    expect(findManifest<MutatingWebhookConfiguration>(everyPod, 'MutatingWebhookConfiguration').webhooks?.[0]?.matchConditions).toBeUndefined();
  });

  it('checks the injected resources as the webhook will, so that a values mistake never crash-loops it', async () => {
    const refusal = async (resources: Record<string, unknown>) => {
      const result = await helmTemplate({ injection: { resources } });
      expect(result.status).not.toBe(0);
      return result.stderr;
    };
    expect(await refusal({ memoryLimit: '1Gi' })).toContain('injection.resources.memoryLimit (1Gi) is more than injection.resources.maxMemory (512Mi)');
    expect(await refusal({ cpuRequest: 2 })).toContain('injection.resources.cpuRequest (2) is more than injection.resources.maxCpu (1)');
    expect(await refusal({ cpuLimit: '1500m' })).toContain('injection.resources.cpuLimit (1500m) is more than injection.resources.maxCpu (1)');
    expect(await refusal({ memoryRequest: '200Mi' })).toContain(
      'injection.resources.memoryRequest (200Mi) is more than injection.resources.memoryLimit (128Mi)',
    );
    // Units are compared, not text: 0.5Gi is 512Mi, 600m is less than 1, and 1G is more than 512Mi.
    const accepted = await renderChart({
      injection: {
        resources: { memoryLimit: '0.5Gi', cpuRequest: '600m', cpuLimit: 1, maxMemory: '1G', memoryRequest: 134217728 },
        secretsSizeLimit: 33554432,
      },
    });
    expect(await webhookConfig(accepted)).toMatchObject({
      resources: { requests: { cpu: '600m', memory: '134217728' }, limits: { cpu: '1', memory: '0.5Gi' }, max: { memory: '1G' } },
      secretsSizeLimit: '33554432',
    });
  });

  it("holds durations to the webhook's bounds at render, and renders the bounds themselves", async () => {
    for (const [values, message] of [
      [{ injection: { kubernetesAuth: { expiration: '5m' } } }, 'injection.kubernetesAuth.expiration (5m) must be from 10m to 48h'],
      [{ injection: { kubernetesAuth: { expiration: '49h' } } }, 'injection.kubernetesAuth.expiration (49h) must be from 10m to 48h'],
      [{ webhook: { tlsReloadInterval: '50ms' } }, 'webhook.tlsReloadInterval (50ms) must be from 100ms to 1h'],
      [{ webhook: { tlsReloadInterval: '61m' } }, 'webhook.tlsReloadInterval (61m) must be from 100ms to 1h'],
    ] as const) {
      const result = await helmTemplate(values);
      expect(result.status).not.toBe(0);
      expect(result.stderr).toContain(message);
    }
    const edges = await renderChart({ injection: { kubernetesAuth: { expiration: '10m' } }, webhook: { tlsReloadInterval: '1h' } });
    expect(await webhookConfig(edges)).toMatchObject({ tokenExpirationSeconds: 600, tlsReloadMs: 3_600_000 });
  });

  it("gives the webhook's API calls 60 % of the admission timeout, at most 8 s", async () => {
    const apiTimeout = async (timeoutSeconds: number) => (await webhookConfig(await renderChart({ webhook: { timeoutSeconds } }))).apiTimeoutMs;
    expect([await apiTimeout(1), await apiTimeout(5), await apiTimeout(30)]).toEqual([600, 3000, 8000]);
  });

  it("keeps the user's namespace selector and adds the exclusion to it, which no selector can lift", async () => {
    const namespaceSelector = {
      matchLabels: { team: 'payments' },
      matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: [NAMESPACE, 'payments'] }],
    };
    const manifests = await renderChart({ webhook: { namespaceSelector } });
    expect(findManifest<MutatingWebhookConfiguration>(manifests, 'MutatingWebhookConfiguration').webhooks?.[0]?.namespaceSelector).toEqual({
      matchLabels: { team: 'payments' },
      matchExpressions: [
        ...namespaceSelector.matchExpressions,
        { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [NAMESPACE, 'kube-system', 'kube-node-lease'] },
      ],
    });
  });

  it('requires anti-affinity when asked to, and then rolls out without a surge', async () => {
    const deployment = findManifest<Deployment>(await renderChart({ antiAffinity: 'hard' }), 'Deployment');
    const affinity = deployment.spec?.template.spec?.affinity?.podAntiAffinity;
    expect(affinity?.preferredDuringSchedulingIgnoredDuringExecution).toBeUndefined();
    expect(affinity?.requiredDuringSchedulingIgnoredDuringExecution?.[0]?.topologyKey).toBe('kubernetes.io/hostname');
    // With one node per replica a surge pod could not be placed: the rollout replaces one replica at a time.
    expect(deployment.spec?.strategy?.rollingUpdate).toEqual({ maxUnavailable: 1, maxSurge: 0 });
    const soft = findManifest<Deployment>(await renderChart(), 'Deployment');
    expect(soft.spec?.strategy?.rollingUpdate).toEqual({ maxUnavailable: 0, maxSurge: 1 });
  });

  it.each([
    { name: 'a failurePolicy typo', values: { webhook: { failurePolicy: 'fail' } }, path: ['webhook', 'failurePolicy'] },
    { name: 'an unknown failurePolicy', values: { webhook: { failurePolicy: 'Ignored' } }, path: ['webhook', 'failurePolicy'] },
    { name: 'zero replicas', values: { replicaCount: 0 }, path: ['replicaCount'] },
    { name: 'replicas as a string', values: { replicaCount: '2' }, path: ['replicaCount'] },
    { name: 'replicas removed', values: { replicaCount: null }, path: ['replicaCount'] },
    { name: 'a misspelt top-level key', values: { replicas: 3 }, path: ['replicas'] },
    { name: 'a YAML break-out in the image tag', values: { image: { tag: '1.0\nkind: Secret' } }, path: ['image', 'tag'] },
    { name: 'a quote in the repository', values: { image: { repository: 'evil"; rm -rf /' } }, path: ['image', 'repository'] },
    { name: 'a template in the injected image', values: { injection: { image: 'registry.example/x:${HOME}' } }, path: ['injection', 'image'] },
    { name: 'a memory limit in CPU units', values: { injection: { resources: { memoryLimit: '100m' } } }, path: ['injection', 'resources', 'memoryLimit'] },
    {
      name: 'a duration without a unit',
      values: { injection: { kubernetesAuth: { expiration: '3600' } } },
      path: ['injection', 'kubernetesAuth', 'expiration'],
    },
    { name: 'a tag YAML read as a float (1.10 is 1.1)', values: { image: { tag: 1.1 } }, path: ['image', 'tag'] },
    { name: 'a malformed digest', values: { image: { digest: 'sha256:xyz' } }, path: ['image', 'digest'] },
    { name: 'a YAML break-out in a pod label value', values: { podLabels: { team: 'a\n---\nkind: Secret' } }, path: ['podLabels'] },
    { name: 'a pod label key with spaces', values: { podLabels: { 'bad key': 'x' } }, path: ['podLabels'] },
    { name: 'an upper-case nameOverride', values: { nameOverride: 'Secrets_Sidecar' }, path: ['nameOverride'] },
    { name: 'a 53-character fullnameOverride', values: { fullnameOverride: 'a'.repeat(53) }, path: ['fullnameOverride'] },
    { name: 'a timeout past the API server limit', values: { webhook: { timeoutSeconds: 31 } }, path: ['webhook', 'timeoutSeconds'] },
    {
      name: 'a lower-case selector operator',
      values: { webhook: { namespaceSelector: { matchExpressions: [{ key: 'team', operator: 'in', values: ['a'] }] } } },
      path: ['webhook', 'namespaceSelector'],
    },
    {
      name: 'a namespace with a space in excludeNamespaces',
      values: { webhook: { excludeNamespaces: ['kube system'] } },
      path: ['webhook', 'excludeNamespaces'],
    },
    {
      name: 'an issuer kind without a name',
      values: { certificate: { certManager: { issuerRef: { kind: 'ClusterIssuer' } } } },
      path: ['certificate', 'certManager', 'issuerRef'],
    },
    {
      name: 'a certificate lifetime cert-manager refuses',
      values: { certificate: { certManager: { enabled: true, duration: '30m' } } },
      path: ['certificate', 'certManager', 'duration'],
    },
    { name: 'a zero memory request', values: { injection: { resources: { memoryRequest: '0Mi' } } }, path: ['injection', 'resources', 'memoryRequest'] },
    { name: 'a zero CPU limit as a number', values: { injection: { resources: { cpuLimit: 0 } } }, path: ['injection', 'resources', 'cpuLimit'] },
    { name: 'a privileged port', values: { webhook: { port: 443 } }, path: ['webhook', 'port'] },
    { name: 'an unknown log level', values: { logLevel: 'verbose' }, path: ['logLevel'] },
  ])('refuses $name, naming the value', async ({ values, path }) => {
    const result = await helmTemplate(values);
    expect(result.status).not.toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain("values don't meet the specifications of the schema");
    // helm names the value as a JSON pointer (/webhook/failurePolicy); the last segment may be inside the message.
    expect(result.stderr).toMatch(new RegExp(path.map((segment) => segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.{1,3}')));
  });

  it('refuses a namespace or release name that cannot name a Service', async () => {
    const namespace = await helmTemplate({}, { namespace: 'evil\nkind: Secret' });
    expect(namespace.status).not.toBe(0);
    expect(namespace.stderr).toContain('is not a DNS label');
    const release = await helmTemplate({}, { release: '1st' });
    expect(release.status).not.toBe(0);
    expect(release.stderr).toContain('set fullnameOverride');
    expect((await renderChart({ fullnameOverride: 'webhook' }, { release: '1st' })).length).toBeGreaterThan(0);
  });

  it('keeps a YAML break-out in an annotation value as data', async () => {
    const note = 'x\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: planted}';
    const manifests = await renderChart({ podAnnotations: { 'example.com/note': note }, serviceAccount: { annotations: { 'example.com/note': note } } });
    expect(manifests.filter((m) => m.kind === 'Secret').map((m) => m.metadata.name)).toEqual([`${FULLNAME}-tls`]);
    const deployment = findManifest<Deployment>(manifests, 'Deployment');
    expect(deployment.spec?.template.metadata?.annotations?.['example.com/note']).toBe(note);
    expect(findManifest(manifests, 'ServiceAccount').metadata.annotations?.['example.com/note']).toBe(note);
  });

  it('keeps the selector labels when podLabels tries to override them', async () => {
    const deployment = findManifest<Deployment>(await renderChart({ podLabels: { 'app.kubernetes.io/name': 'other', team: 'payments' } }), 'Deployment');
    expect(deployment.spec?.template.metadata?.labels).toMatchObject({ ...deployment.spec?.selector.matchLabels, team: 'payments' });
  });
});

describe('the rendered chart against a real API server (PodSecurity restricted)', () => {
  // A registered webhook whose Service has no endpoints refuses annotated pods: none outlives its test.
  afterEach(async () => {
    await kube.apiOk('DELETE', '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations');
  });

  it('creates every object with server-side apply and strict field validation, and a pod from the Deployment template', async () => {
    await kube.createNamespace(NAMESPACE, RESTRICTED);
    const manifests = await renderChart({}, { namespace: NAMESPACE });
    for (const manifest of manifests) {
      const stored = await serverSideApply(manifest);
      expect((stored['metadata'] as { name: string }).name).toBe(manifest.metadata.name);
    }
    const pod = podFromTemplate(findManifest<Deployment>(manifests, 'Deployment'), 'webhook-from-template');
    const created = await createPod(pod);
    expect(created, created.message).toMatchObject({ status: 201 });

    // PodSecurity is enforced here: the same pod with one restricted field relaxed is refused.
    const relaxed = structuredClone(pod) as unknown as { metadata: { name: string }; spec: Pod['spec'] };
    relaxed.metadata.name = 'relaxed';
    const webhookContainer = relaxed.spec?.containers[0];
    if (webhookContainer?.securityContext) webhookContainer.securityContext.allowPrivilegeEscalation = true;
    const refused = await createPod(relaxed as unknown as Manifest);
    expect(refused.status).toBe(403);
    expect(refused.message).toContain('allowPrivilegeEscalation != false');
  });

  it('fits a 53-character release name and a 63-character namespace into every name, and the API server takes them', async () => {
    const release = `r${'e'.repeat(52)}`;
    const namespace = `n${'s'.repeat(62)}`;
    await kube.createNamespace(namespace, RESTRICTED);
    const manifests = await renderChart({ replicaCount: 3 }, { release, namespace });
    for (const manifest of manifests) {
      expect(manifest.metadata.name.length).toBeLessThanOrEqual(manifest.kind.startsWith('Cluster') || manifest.kind.startsWith('Mutating') ? 253 : 63);
      await serverSideApply(manifest);
    }
    expect((await webhookConfig(manifests)).namespace).toBe(namespace);
    const secret = findManifest<Secret>(manifests, 'Secret');
    const service = findManifest(manifests, 'Service').metadata.name;
    expect(certificates(secret).serving.checkHost(`${service}.${namespace}.svc.cluster.local`)).toBeDefined();
    const created = await createPod(podFromTemplate(findManifest<Deployment>(manifests, 'Deployment'), 'from-template'));
    expect(created, created.message).toMatchObject({ status: 201 });
  });

  it('takes every optional value at once (pull secrets, priority, placement, labels, annotations, hard anti-affinity) under strict validation', async () => {
    const namespace = 'full-system';
    await kube.createNamespace(namespace, RESTRICTED);
    await kube.apiOk('POST', '/apis/scheduling.k8s.io/v1/priorityclasses', { metadata: { name: 'webhook-critical' }, value: 1_000_000 });
    const values = {
      imagePullSecrets: [{ name: 'registry-credentials' }],
      priorityClassName: 'webhook-critical',
      nodeSelector: { 'kubernetes.io/os': 'linux' },
      tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'platform', effect: 'NoSchedule' }],
      topologySpreadConstraints: [
        { maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: { team: 'platform' } } },
      ],
      podLabels: { team: 'platform' },
      podAnnotations: { 'prometheus.io/scrape': 'true' },
      serviceAccount: { name: 'injector', annotations: { 'example.com/owner': 'platform' } },
      antiAffinity: 'hard',
      replicaCount: 3,
      injection: { imagePullPolicy: 'Always', resources: { cpuLimit: '500m' } },
      webhook: { namespaces: ['full-team'], objectSelector: { matchExpressions: [{ key: 'secrets-sidecar.io/skip', operator: 'DoesNotExist' }] } },
    };
    await kube.createNamespace('full-team');
    const manifests = await renderChart(values, { namespace });
    for (const manifest of manifests) await serverSideApply(manifest);
    const pod = podFromTemplate(findManifest<Deployment>(manifests, 'Deployment'), 'from-template');
    const created = await createPod(pod);
    expect(created, created.message).toMatchObject({ status: 201 });
    const stored = await getObject<Pod>(`/api/v1/namespaces/${namespace}/pods/from-template`);
    expect(stored.spec).toMatchObject({ serviceAccountName: 'injector', priorityClassName: 'webhook-critical', imagePullSecrets: values.imagePullSecrets });
    expect(stored.spec?.tolerations).toContainEqual(values.tolerations[0]);
    expect(await webhookConfig(manifests)).toMatchObject({ imagePullPolicy: 'Always', namespaces: ['full-team'], resources: { limits: { cpu: '500m' } } });
  });

  it('with cert-manager: the other objects pass strict server-side apply and a pod from the template passes PodSecurity; the cert-manager kinds are unknown here (checked statically above)', async () => {
    const namespace = 'cm-system';
    await kube.createNamespace(namespace, RESTRICTED);
    const manifests = await renderChart(CERT_MANAGER, { namespace });
    const [certManager, core] = [
      manifests.filter((m) => m.apiVersion === 'cert-manager.io/v1'),
      manifests.filter((m) => m.apiVersion !== 'cert-manager.io/v1'),
    ];
    expect(certManager).toHaveLength(4);
    for (const manifest of core) await serverSideApply(manifest);
    const created = await kube.api(
      'POST',
      `/api/v1/namespaces/${namespace}/pods?dryRun=All&fieldValidation=Strict`,
      podFromTemplate(findManifest<Deployment>(manifests, 'Deployment'), 'from-template'),
    );
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const certificate = findManifest(certManager, 'Certificate', FULLNAME);
    expect((await kube.api('POST', `/apis/cert-manager.io/v1/namespaces/${namespace}/certificates`, certificate)).status).toBe(404);
  });

  it('the registered webhook never sees its own namespace or unannotated pods; annotated pods elsewhere meet its failurePolicy', async () => {
    const namespace = 'policy-system';
    const apps = 'apps';
    await kube.createNamespace(namespace, RESTRICTED);
    await kube.createNamespace(apps, RESTRICTED);
    // The Service has no endpoints (no controller manager runs here): every call to the webhook fails.
    const apply = async (failurePolicy: string) => {
      // The selector tries to bring the webhook's own namespace in; the chart's exclusion still holds.
      const namespaceSelector = { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: [namespace, apps] }] };
      for (const manifest of await renderChart({ webhook: { failurePolicy, timeoutSeconds: 2, namespaceSelector } }, { namespace }))
        await serverSideApply(manifest);
    };
    await apply('Fail');
    const inject = { 'secrets-sidecar.io/inject': 'true' };
    expect(await createPod(restrictedPod(apps, 'plain'))).toMatchObject({ status: 201 });
    const refused = await createPod(restrictedPod(apps, 'annotated', inject));
    expect(refused.status).toBe(500);
    expect(refused.message).toContain('failed calling webhook "inject.secrets-sidecar.io"');
    // Any secrets-sidecar.io annotation goes to the webhook, so a bad one is refused by it rather than ignored.
    expect((await createPod(restrictedPod(apps, 'typo', { 'secrets-sidecar.io/injekt': 'true' }))).status).toBe(500);
    expect(await createPod(restrictedPod(namespace, 'own-namespace', inject))).toMatchObject({ status: 201 });

    await apply('Ignore');
    expect(await createPod(restrictedPod(apps, 'annotated', inject))).toMatchObject({ status: 201 });
  });

  it("the webhook's service account may get ConfigMaps (only in the served namespaces, when listed) and, under Ignore, list pods; nothing else", async () => {
    const namespace = 'rbac-system';
    await kube.createNamespace(namespace, RESTRICTED);
    await kube.createNamespace('team-a');
    const manifests = await renderChart({ webhook: { failurePolicy: 'Ignore' } }, { namespace });
    for (const manifest of manifests.filter((m) => m.kind !== 'MutatingWebhookConfiguration')) await serverSideApply(manifest);
    await kube.apiOk('POST', '/api/v1/namespaces/team-a/configmaps', { metadata: { name: 'app-config' }, data: { 'sidecar.hcl': '' } });
    const token = await kube.serviceAccountToken(namespace, findManifest(manifests, 'ServiceAccount').metadata.name);
    const status = async (method: string, path: string, body?: unknown) => (await kube.api(method, path, body, { token })).status;
    expect(await status('GET', '/api/v1/namespaces/team-a/configmaps/app-config')).toBe(200);
    expect(await status('GET', '/api/v1/pods')).toBe(200);
    expect(await status('GET', '/api/v1/namespaces/team-a/configmaps')).toBe(403);
    expect(await status('GET', '/api/v1/namespaces/team-a/secrets')).toBe(403);
    expect(await status('GET', `/api/v1/namespaces/${namespace}/secrets/${FULLNAME}-tls`)).toBe(403);
    expect(await status('DELETE', '/api/v1/namespaces/team-a/configmaps/app-config')).toBe(403);
    expect(await status('POST', '/api/v1/namespaces/team-a/pods', restrictedPod('team-a', 'p'))).toBe(403);

    // Serving listed namespaces only, it may read ConfigMaps there only (a RoleBinding in each); under Fail it
    // has no cluster-wide role at all.
    const narrow = 'rbac-narrow';
    await kube.createNamespace(narrow, RESTRICTED);
    await kube.createNamespace('team-b');
    await kube.apiOk('POST', '/api/v1/namespaces/team-b/configmaps', { metadata: { name: 'app-config' }, data: { 'sidecar.hcl': '' } });
    const served = await renderChart({ webhook: { namespaces: ['team-a'] } }, { namespace: narrow });
    expect(served.filter((m) => m.kind === 'RoleBinding').map((m) => m.metadata.namespace)).toEqual(['team-a']);
    expect(served.filter((m) => m.kind === 'ClusterRoleBinding')).toEqual([]);
    for (const manifest of served.filter((m) => m.kind !== 'MutatingWebhookConfiguration')) await serverSideApply(manifest);
    const narrowToken = await kube.serviceAccountToken(narrow, findManifest(served, 'ServiceAccount').metadata.name);
    const narrowStatus = async (path: string) => (await kube.api('GET', path, undefined, { token: narrowToken })).status;
    expect(await narrowStatus('/api/v1/namespaces/team-a/configmaps/app-config')).toBe(200);
    expect(await narrowStatus('/api/v1/namespaces/team-b/configmaps/app-config')).toBe(403);
    expect(await narrowStatus('/api/v1/pods')).toBe(403);
  });

  it('helm install, then helm upgrade, keeps the CA and serving certificate (lookup), so the caBundle stays valid', async () => {
    const namespace = 'upgrade-system';
    await kube.createNamespace(namespace, RESTRICTED);
    const read = async () => {
      const secret = await getObject<Secret>(`/api/v1/namespaces/${namespace}/secrets/${FULLNAME}-tls`);
      const configuration = await getObject<MutatingWebhookConfiguration>(
        `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${namespace}-${FULLNAME}`,
      );
      return { secret: secret.data, caBundle: configuration.webhooks?.[0]?.clientConfig.caBundle, failurePolicy: configuration.webhooks?.[0]?.failurePolicy };
    };
    try {
      const install = await helm(['install', FULLNAME, CHART, '--namespace', namespace, '--set', 'webhook.failurePolicy=Ignore'], { kubeconfig });
      expect(install.status, install.stderr).toBe(0);
      expect(install.stdout).toContain(`The secrets-sidecar webhook runs as ${FULLNAME} in namespace ${namespace}`);
      expect(install.stdout).toContain('failurePolicy Ignore');
      const before = await read();
      expect(Buffer.from(before.caBundle ?? '', 'base64').toString('base64')).toBe(before.secret?.['ca.crt']);

      const upgrade = await helm(['upgrade', FULLNAME, CHART, '--namespace', namespace, '--set', 'webhook.failurePolicy=Ignore', '--set', 'replicaCount=3'], {
        kubeconfig,
      });
      expect(upgrade.status, upgrade.stderr).toBe(0);
      const after = await read();
      expect(after.secret).toEqual(before.secret);
      expect(after.caBundle).toBe(before.caBundle);
      const deployment = await getObject<Deployment>(`/apis/apps/v1/namespaces/${namespace}/deployments/${FULLNAME}`);
      expect(deployment.spec?.replicas).toBe(3);

      // Without the cluster to look in, each render makes a new CA: the lookup is what keeps it.
      const [first, second] = [await renderChart({}, { namespace }), await renderChart({}, { namespace })];
      expect(findManifest<Secret>(first, 'Secret').data?.['ca.crt']).not.toBe(findManifest<Secret>(second, 'Secret').data?.['ca.crt']);
    } finally {
      await helm(['uninstall', FULLNAME, '--namespace', namespace], { kubeconfig });
    }
  });
});

/** An HTTPS request to the webhook, trusting only `ca` and checking the certificate against `servername`. */
function askWebhook(
  port: number,
  method: string,
  path: string,
  tls: { ca: string; servername: string },
  body?: unknown,
): Promise<{ status: number; text: string }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        ca: tls.ca,
        servername: tls.servername,
        timeout: 5_000,
        headers: payload ? { 'content-type': 'application/json' } : {},
      },
      (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString()));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, text }));
        response.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within 5 s`)));
    req.on('error', reject);
    req.end(payload);
  });
}

describe("the chart's webhook config, Secret and RBAC, run by the built CLI", () => {
  it('serves the chart certificate for the Service name, reads ConfigMaps and lists pods with the chart RBAC', async () => {
    const namespace = 'live-system';
    const team = 'team-live';
    await kube.createNamespace(namespace, RESTRICTED);
    await kube.createNamespace(team);
    // Served: this test's namespace only, so pods other tests left annotated elsewhere are not counted.
    const manifests = await renderChart({ webhook: { failurePolicy: 'Ignore', namespaces: [team] } }, { namespace });
    // Everything but the MutatingWebhookConfiguration: its Service cannot reach a process on loopback.
    for (const manifest of manifests.filter((m) => m.kind !== 'MutatingWebhookConfiguration')) await serverSideApply(manifest);
    const sidecarHcl = [
      'backend "file" "k8s" {',
      '  path = "/var/run/secrets/app"',
      '}',
      'template {',
      '  contents    = "{{secret \\"k8s:password\\"}}"',
      '  destination = "/run/secrets-sidecar/password"',
      '}',
      '',
    ].join('\n');
    await kube.apiOk('POST', `/api/v1/namespaces/${team}/configmaps`, { metadata: { name: 'app-secrets' }, data: { 'sidecar.hcl': sidecarHcl } });
    // Admitted while no webhook was registered: the start-up scan (failurePolicy Ignore) must find it.
    await kube.apiOk('POST', `/api/v1/namespaces/${team}/pods`, restrictedPod(team, 'missed', { 'secrets-sidecar.io/inject': 'true' }));

    // The rendered config and Secret, as the pod would mount them; only the listener and the API access are local.
    const dir = await mkdtemp(join(work, 'live-'));
    const { serving, key } = certificates(findManifest<Secret>(manifests, 'Secret'));
    await writeFile(join(dir, 'tls.crt'), serving.toString());
    await writeFile(join(dir, 'tls.key'), key, { mode: 0o600 });
    const token = await kube.serviceAccountToken(namespace, findManifest(manifests, 'ServiceAccount').metadata.name);
    await writeFile(join(dir, 'token'), token, { mode: 0o600 });
    const rendered = JSON.parse(findManifest<ConfigMap>(manifests, 'ConfigMap').data?.['webhook.json'] ?? '{}') as { webhook: Record<string, unknown> };
    const port = await freePort();
    Object.assign(rendered.webhook, {
      address: `127.0.0.1:${port}`,
      tls_cert_file: join(dir, 'tls.crt'),
      tls_key_file: join(dir, 'tls.key'),
      kubernetes: { server: kube.server, ca_file: kube.caFile, token_file: join(dir, 'token') },
    });
    await writeFile(join(dir, 'webhook.json'), JSON.stringify(rendered));

    const container = findManifest<Deployment>(manifests, 'Deployment').spec?.template.spec?.containers[0];
    const args = (container?.args ?? []).map((arg) => (arg === '/etc/secrets-sidecar-webhook/webhook.json' ? join(dir, 'webhook.json') : arg));
    // The container's environment, as the Deployment sets it (NODE_OPTIONS among it).
    const env = Object.fromEntries((container?.env ?? []).map((variable) => [variable.name, variable.value ?? '']));
    expect(env['NODE_OPTIONS']).toBe('--max-semi-space-size=2');
    const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
    const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
    try {
      const webhook = findManifest<MutatingWebhookConfiguration>(manifests, 'MutatingWebhookConfiguration').webhooks?.[0];
      const tls = {
        ca: Buffer.from(webhook?.clientConfig.caBundle ?? '', 'base64').toString(),
        servername: `${webhook?.clientConfig.service?.name}.${namespace}.svc`,
      };
      // The probes' path and scheme, against the chart's caBundle and the name the API server calls.
      const probe = container?.readinessProbe?.httpGet;
      expect(probe?.scheme).toBe('HTTPS');
      let ready: { status: number } | undefined;
      for (let attempt = 0; attempt < 100 && ready?.status !== 200; attempt++) {
        if (child.exitCode !== null) throw new Error(`the webhook exited: ${log}`);
        ready = await askWebhook(port, 'GET', probe?.path ?? '', tls).catch(() => undefined);
        if (ready?.status !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(ready?.status, log).toBe(200);

      // The start-up scan listed pods with the chart's RBAC and found the one admitted without a sidecar.
      let metrics = '';
      for (let attempt = 0; attempt < 100 && !/^secrets_sidecar_webhook_uninjected_pods 1$/m.test(metrics); attempt++) {
        metrics = (await askWebhook(port, 'GET', '/metrics', tls)).text;
        if (!/^secrets_sidecar_webhook_uninjected_pods 1$/m.test(metrics)) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(metrics, log).toMatch(/^secrets_sidecar_webhook_uninjected_pods 1$/m);
      expect(log).toContain(`"pods":["${team}/missed"]`);

      // An admission that reads the pod's ConfigMap with the chart's RBAC, at the path the configuration calls.
      const review = {
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: {
          uid: 'e1f0c9a4-7b0e-4c55-9d4e-000000000001',
          kind: { group: '', version: 'v1', kind: 'Pod' },
          resource: { group: '', version: 'v1', resource: 'pods' },
          namespace: team,
          operation: 'CREATE',
          object: restrictedPod(team, 'app', { 'secrets-sidecar.io/inject': 'true', 'secrets-sidecar.io/config': 'app-secrets' }),
        },
      };
      const answer = await askWebhook(port, 'POST', webhook?.clientConfig.service?.path ?? '', tls, review);
      expect(answer.status, log).toBe(200);
      const response = (JSON.parse(answer.text) as { response: { allowed: boolean; patchType?: string; status?: unknown } }).response;
      expect(response, log).toMatchObject({ allowed: true, patchType: 'JSONPatch' });
      expect(log).not.toMatch(/"level":"(error|fatal)"/);

      // The chart's memory limit leaves the webhook room: its resident set after start, the scan and an admission.
      const rssKiB = Number(/^VmRSS:\s+(\d+) kB$/m.exec(await readFile(`/proc/${child.pid}/status`, 'utf8'))?.[1]);
      const limit = String(container?.resources?.limits?.['memory'] ?? '');
      expect(limit).toMatch(/^\d+Mi$/);
      expect(rssKiB).toBeGreaterThan(0);
      expect(rssKiB / 1024).toBeLessThan(parseInt(limit, 10) * 0.8);
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });
});
