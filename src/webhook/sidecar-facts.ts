import { parseConfig } from '../config/load-config.js';
import type { ResolvedConfig } from '../config/types.js';
import { CONFIG_PATH } from './annotations.js';

/*
 * What the webhook must know of a pod's sidecar.hcl to inject it: read with the sidecar's own parser, at the path
 * the sidecar will see it, so that relative paths resolve as they will in the pod.
 */

export const SIDECAR_CONFIG_FILE = `${CONFIG_PATH}/sidecar.hcl`;

export interface SidecarFacts {
  /** A notify block signals a process (by pid file or name): the pod must share its process namespace. */
  readonly signalsProcess: boolean;
  /** Token files of backends that log in with Kubernetes auth: a projected token goes there. */
  readonly kubernetesTokenFiles: readonly string[];
  /** A `rollout` notify target reaches the API server in-cluster: the sidecar needs the service-account directory. */
  readonly rolloutInCluster: boolean;
  /** Every template's destination, absolute. */
  readonly destinations: readonly string[];
  /** A backend logs in (not a given token) and keeps that login token in its cache, for the handover. */
  readonly cachesLoginToken: boolean;
  /** The least open mode a template writes (0600 by default): only its owner may read such a file. */
  readonly ownerOnlyPerms: number | undefined;
}

/** Parses sidecar.hcl as the injected sidecar will; throws its coded, located config error. */
export async function readSidecarFacts(source: string): Promise<SidecarFacts> {
  return factsOf(await parseConfig(source, SIDECAR_CONFIG_FILE));
}

export function factsOf(config: ResolvedConfig): SidecarFacts {
  const tokenFiles = new Set<string>();
  let cachesLoginToken = false;
  for (const backend of config.backends) {
    // Providers are not named outside backends/ and config/: a backend with Kubernetes auth says so in its auth.
    const auth = (backend as { auth?: { method?: string; jwtFile?: string } }).auth;
    if (auth?.method === 'kubernetes' && auth.jwtFile) tokenFiles.add(auth.jwtFile);
    // A backend that keeps a cache gets one from the webhook (--cache-dir); a given token is never written there.
    if ('cacheDir' in backend && auth?.method !== undefined && auth.method !== 'token') cachesLoginToken = true;
  }
  return Object.freeze({
    signalsProcess: config.notify.some((n) => n.action.kind === 'pid-file' || n.action.kind === 'process'),
    kubernetesTokenFiles: Object.freeze([...tokenFiles]),
    rolloutInCluster: config.notify.some((n) => n.action.kind === 'rollout' && n.action.kubeconfig === undefined),
    destinations: Object.freeze(config.templates.map((t) => t.destination)),
    cachesLoginToken,
    ownerOnlyPerms: config.templates.find((t) => (t.perms & 0o044) === 0)?.perms,
  });
}
