import { SidecarError } from '../errors.js';
import { wantsInjection } from './annotations.js';
import type { KubeClient } from './kube-client.js';
import { isInjected } from './pod-mutation.js';
import type { WebhookConfig } from './webhook-config.js';

/*
 * With failurePolicy Ignore, pods admitted while the webhook was down run without their sidecar. At start the
 * webhook lists them (it restarts nothing: that is the owner's call). Paged and bounded.
 */

const PAGE = 500;
const MAX_PAGES = 200;

export interface ScanResult {
  readonly count: number;
  /** namespace/name, the first few. */
  readonly examples: readonly string[];
  /** The listing stopped at MAX_PAGES: there may be more. */
  readonly truncated: boolean;
}

export async function findUninjectedPods(kube: KubeClient, config: WebhookConfig, ownNamespace: string): Promise<ScanResult> {
  let count = 0;
  const examples: string[] = [];
  let next: string | undefined = '';
  let pages = 0;
  for (; next !== undefined && pages < MAX_PAGES; pages++) {
    const answer = await kube.get(`/api/v1/pods?limit=${PAGE}${next ? `&continue=${encodeURIComponent(next)}` : ''}`);
    if (answer.status !== 200 || !answer.body)
      throw new SidecarError('SIDECAR_ERR_WEBHOOK_KUBE', `listing pods: HTTP ${answer.status}`, {
        hint: 'with failure_policy = "Ignore" the webhook\'s service account needs list on pods',
      });
    const items = Array.isArray(answer.body['items']) ? (answer.body['items'] as Record<string, unknown>[]) : [];
    for (const pod of items) {
      const metadata = (pod?.['metadata'] ?? {}) as Record<string, unknown>;
      const namespace = typeof metadata['namespace'] === 'string' ? metadata['namespace'] : '';
      if (namespace === ownNamespace || config.excludeNamespaces.includes(namespace)) continue;
      if (config.namespaces.length > 0 && !config.namespaces.includes(namespace)) continue;
      let wanted = false;
      try {
        wanted = wantsInjection((metadata['annotations'] ?? {}) as Record<string, unknown>);
      } catch {
        wanted = false;
      }
      if (!wanted || isInjected(pod)) continue;
      count++;
      if (examples.length < 20) examples.push(`${namespace}/${typeof metadata['name'] === 'string' ? metadata['name'] : '?'}`);
    }
    const meta = (answer.body['metadata'] ?? {}) as Record<string, unknown>;
    next = typeof meta['continue'] === 'string' && meta['continue'] !== '' ? meta['continue'] : undefined;
  }
  return { count, examples, truncated: next !== undefined };
}
