import type { KubeControlPlane } from './kube-control-plane.js';

/** A Deployment of three replicas whose pods are never started (no controllers run): what a rollout target patches. */
export async function createDeployment(kube: KubeControlPlane, namespace: string, name: string): Promise<void> {
  await kube.apiOk('POST', `/apis/apps/v1/namespaces/${namespace}/deployments`, {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }] } },
    },
  });
}

/** The Deployment as the API server stores it: its generation, its pod template's annotations, and its whole JSON. */
export async function readDeployment(
  kube: KubeControlPlane,
  namespace: string,
  name: string,
): Promise<{ generation: number; annotations: Record<string, string>; json: string }> {
  const body = await kube.apiOk('GET', `/apis/apps/v1/namespaces/${namespace}/deployments/${name}`);
  const template = (body['spec'] as { template: { metadata: { annotations?: Record<string, string> } } }).template;
  return { generation: (body['metadata'] as { generation: number }).generation, annotations: template.metadata.annotations ?? {}, json: JSON.stringify(body) };
}
