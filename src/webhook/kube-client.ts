import { Agent, request } from 'node:https';
import { readBounded } from '../bounded-read.js';
import { SidecarError } from '../errors.js';
import { inClusterServer } from '../kubernetes-pod.js';
import { setSafeTimeout } from '../timer.js';
import type { KubernetesAccess } from './webhook-config.js';

/*
 * The two reads the webhook makes of the API server (a ConfigMap, a page of pods), over one kept-alive
 * connection. A small client rather than @kubernetes/client-node: two GETs do not justify its start-up time and
 * memory. The token is read again at each call, since the kubelet rotates it; every call has a deadline and a
 * size cap.
 */

export interface KubeAnswer {
  readonly status: number;
  readonly body: Record<string, unknown> | undefined;
}

export interface KubeClient {
  get(path: string): Promise<KubeAnswer>;
  close(): void;
}

/** A ConfigMap is at most 1 MiB; a page of 500 pods stays well under this. */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

export async function createKubeClient(access: KubernetesAccess, env: Readonly<Record<string, string | undefined>>, timeoutMs: number): Promise<KubeClient> {
  const server = access.server ?? inClusterServerOf(env);
  const ca = await readBounded(access.caFile, { maxBytes: 1024 * 1024 }).catch((cause: unknown) => {
    throw new SidecarError('SIDECAR_ERR_CONFIG_READ', `cannot read the API server's CA ${access.caFile}: ${(cause as Error).message}`, { cause });
  });
  const agent = new Agent({ keepAlive: true, maxSockets: 16, ca });
  const token = async () => (await readBounded(access.tokenFile, { maxBytes: 64 * 1024 })).toString('utf8').trim();
  return {
    close: () => agent.destroy(),
    get: async (path) => {
      let bearer: string;
      try {
        bearer = await token();
      } catch (cause) {
        throw new SidecarError('SIDECAR_ERR_WEBHOOK_KUBE', `cannot read the service-account token ${access.tokenFile}: ${(cause as Error).message}`, { cause });
      }
      return new Promise<KubeAnswer>((resolve, reject) => {
        const fail = (message: string, cause?: unknown) =>
          reject(new SidecarError('SIDECAR_ERR_WEBHOOK_KUBE', `GET ${path.split('?')[0]}: ${message}`, { cause }));
        const req = request(
          new URL(path, server),
          { method: 'GET', agent, headers: { Authorization: `Bearer ${bearer}`, Accept: 'application/json' } },
          (res) => {
            const chunks: Buffer[] = [];
            let size = 0;
            res.on('data', (chunk: Buffer) => {
              size += chunk.length;
              if (size > MAX_ANSWER_BYTES) req.destroy(new Error(`the answer is larger than ${MAX_ANSWER_BYTES} bytes`));
              else chunks.push(chunk);
            });
            res.on('end', () => {
              let body: Record<string, unknown> | undefined;
              try {
                body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
              } catch {
                body = undefined;
              }
              resolve({ status: res.statusCode ?? 0, body });
            });
            res.on('error', (error) => fail(error.message, error));
          },
        );
        // A deadline on the whole call, not on idleness: a server trickling bytes must not hold an admission.
        const deadline = setSafeTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
        req.on('close', () => deadline.clear());
        req.on('error', (error) => fail(error.message, error));
        req.end();
      });
    },
  };
}

function inClusterServerOf(env: Readonly<Record<string, string | undefined>>): string {
  const server = inClusterServer(env, (problem) => new SidecarError('SIDECAR_ERR_CONFIG_INVALID', `webhook.kubernetes.server is not set, and ${problem}`));
  if (server === undefined)
    throw new SidecarError('SIDECAR_ERR_CONFIG_INVALID', 'webhook.kubernetes.server is not set and KUBERNETES_SERVICE_HOST is empty (not in a cluster)');
  return server;
}
