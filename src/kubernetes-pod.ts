/*
 * What Kubernetes gives every pod to reach its API server, read the same way by the webhook, the rollout target
 * and the Vault provider's Kubernetes login.
 */

/** Where the kubelet mounts a pod's service-account token, CA and namespace. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * The API server's address from KUBERNETES_SERVICE_HOST and _PORT (default 443); undefined when the host is not set
 * (not in a pod). An address, not a URL: a host that is anything else (a path, a user@) would send the token
 * elsewhere, so it, or a port that is not a number, is `invalid`'s error.
 */
export function inClusterServer(env: Readonly<Record<string, string | undefined>>, invalid: (problem: string) => Error): string | undefined {
  const host = env['KUBERNETES_SERVICE_HOST'];
  const port = env['KUBERNETES_SERVICE_PORT'] || '443';
  if (!host) return undefined;
  if (!/^\d{1,5}$/.test(port)) throw invalid('KUBERNETES_SERVICE_PORT is not a port number');
  if (!/^[A-Za-z0-9.:-]{1,253}$/.test(host)) throw invalid('KUBERNETES_SERVICE_HOST is not a host name or IP address');
  return `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
