import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from '../support/dirs.js';
import { startKubeControlPlane, type KubeControlPlane } from '../support/kube-control-plane.js';

/*
 * Every Kubernetes manifest under examples/ as a real API server takes it: created with server-side dry run and
 * strict field validation (an unknown or misspelt field is an error, not silently dropped) in a namespace that
 * enforces PodSecurity "restricted". PodSecurity judges pods, not Deployments or Jobs, so a pod built from each
 * workload's template must be admitted there too. test/static/deploy.test.ts is the fast first pass.
 */
interface Manifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string };
  readonly spec?: Record<string, unknown>;
}

/** Where the manifests are created (dry run). */
const NAMESPACE = 'examples';
/** Where the pods are (dry run too), beside their service accounts created for real. */
const POD_NAMESPACE = 'example-pods';
const RESTRICTED = { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest' };
const DRY_RUN = 'dryRun=All&fieldValidation=Strict';

/** Every YAML document under examples/ that is a Kubernetes object (compose files are not). */
function exampleManifests(): { file: string; manifest: Manifest }[] {
  const found: { file: string; manifest: Manifest }[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (/\.ya?ml$/.test(entry.name)) {
        for (const document of parseAllDocuments(readFileSync(path, 'utf8'))) {
          const value = document.toJS() as Partial<Manifest> | null;
          if (typeof value?.apiVersion === 'string' && typeof value.kind === 'string')
            found.push({ file: relative(REPO_ROOT, path), manifest: value as Manifest });
        }
      }
    }
  };
  walk(join(REPO_ROOT, 'examples'));
  return found;
}

/** The pod template of a workload, if it is one. */
function podTemplate(manifest: Manifest): { metadata?: object; spec: object } | undefined {
  const spec = manifest.spec as { template?: { metadata?: object; spec: object }; jobTemplate?: { spec: { template: { metadata?: object; spec: object } } } };
  return manifest.kind === 'CronJob' ? spec?.jobTemplate?.spec.template : spec?.template;
}

let kube: KubeControlPlane;
/** kind → collection path in the namespace, from the API server's own discovery. */
const collections = new Map<string, string>();
const manifests = exampleManifests();

beforeAll(async () => {
  kube = await startKubeControlPlane();
  await kube.createNamespace(NAMESPACE, RESTRICTED);
  await kube.createNamespace(POD_NAMESPACE, RESTRICTED);
  for (const apiVersion of new Set(manifests.map((m) => m.manifest.apiVersion))) {
    const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const resources = (await kube.apiOk('GET', base))['resources'] as { name: string; kind: string; namespaced: boolean }[];
    for (const resource of resources.filter((r) => !r.name.includes('/'))) {
      collections.set(`${apiVersion}/${resource.kind}`, resource.namespaced ? `${base}/namespaces/${NAMESPACE}/${resource.name}` : `${base}/${resource.name}`);
    }
  }
  // Pods are admitted only with their service account in place (the ServiceAccount admission plugin).
  for (const { manifest } of manifests.filter((m) => m.manifest.kind === 'ServiceAccount')) {
    await kube.apiOk('POST', `/api/v1/namespaces/${POD_NAMESPACE}/serviceaccounts`, withoutNamespace(manifest));
  }
}, 90_000);
afterAll(async () => {
  await kube?.stop();
});

function create(manifest: object & { apiVersion: string; kind: string }) {
  const collection = collections.get(`${manifest.apiVersion}/${manifest.kind}`);
  if (!collection) throw new Error(`the API server serves no ${manifest.apiVersion} ${manifest.kind}`);
  return kube.api('POST', `${collection}?${DRY_RUN}`, withoutNamespace(manifest));
}

/** A manifest that names its namespace is checked in the test's all the same. */
function withoutNamespace<T extends object>(manifest: T): T {
  const copy = structuredClone(manifest) as T & { metadata?: { namespace?: string } };
  delete copy.metadata?.namespace;
  return copy;
}

function admit(pod: object) {
  return kube.api('POST', `/api/v1/namespaces/${POD_NAMESPACE}/pods?${DRY_RUN}`, pod);
}

function podFrom(manifest: Manifest) {
  const template = podTemplate(manifest);
  return (
    template && {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { ...template.metadata, name: `${manifest.metadata.name}-pod` },
      spec: structuredClone(template.spec),
    }
  );
}

describe('the Kubernetes examples, admitted by a real API server (dry run, strict fields, PodSecurity restricted)', () => {
  it('finds the manifests: the native sidecar, the classic sidecar and the Job', () => {
    const kinds = manifests.map(({ file, manifest }) => `${file} ${manifest.kind}/${manifest.metadata.name}`);
    expect(kinds).toEqual(
      expect.arrayContaining([
        'examples/kubernetes/secrets-sidecar.yaml Deployment/app',
        'examples/kubernetes/classic-sidecar.yaml Deployment/app',
        'examples/kubernetes/job.yaml Job/maintenance',
      ]),
    );
  });

  it.each(manifests.map(({ file, manifest }) => [`${file}: ${manifest.kind} ${manifest.metadata.name}`, manifest] as const))(
    '%s is created (dry run, strict), and a pod from its template is admitted',
    async (_name, manifest) => {
      const created = await create(manifest);
      expect(created.status, JSON.stringify(created.body)).toBeLessThan(300);
      const pod = podFrom(manifest);
      if (pod) {
        const admitted = await admit(pod);
        expect(admitted.status, JSON.stringify(admitted.body)).toBe(201);
      }
    },
  );

  it('would refuse what the checks are there for: an unknown field, and a pod outside the restricted profile', async () => {
    const deployment = manifests.find((m) => m.manifest.kind === 'Deployment')?.manifest as Manifest;
    const misspelt = structuredClone(deployment) as Manifest & { spec: { replica?: number } };
    misspelt.spec.replica = 2;
    const refused = await create(misspelt);
    expect(refused.status).toBe(400);
    expect(String(refused.body?.['message'])).toContain('unknown field "spec.replica"');

    // Without runAsNonRoot and runAsUser the image's user (root, for all the pod says) would run it.
    const rootPod = podFrom(deployment) as { spec: { securityContext: Record<string, unknown> } };
    delete rootPod.spec.securityContext['runAsNonRoot'];
    delete rootPod.spec.securityContext['runAsUser'];
    const forbidden = await admit(rootPod);
    expect(forbidden.status).toBe(403);
    expect(String(forbidden.body?.['message'])).toContain('violates PodSecurity "restricted:latest"');
  });
});
