import { posix } from 'node:path';
import { ANNOTATION, AdmissionRefusal, CACHE_PATH, CONFIG_PATH, quote, type InjectionRequest } from './annotations.js';
import { SIDECAR_CONFIG_FILE, type SidecarFacts } from './sidecar-facts.js';
import type { WebhookConfig } from './webhook-config.js';
import { SERVICE_ACCOUNT_DIR } from '../kubernetes-pod.js';

/*
 * The injection itself: what a pod gets, as a JSONPatch. Whole arrays are replaced ("add" on an existing member
 * replaces it), computed from the very object under review, so no index can point at the wrong element.
 */

export const SIDECAR_NAME = 'secrets-sidecar';
export const INIT_NAME = 'secrets-sidecar-init';
export const VOLUME = Object.freeze({
  secrets: 'secrets-sidecar-secrets',
  config: 'secrets-sidecar-config',
  cache: 'secrets-sidecar-cache',
  token: 'secrets-sidecar-token',
  kubeApi: 'secrets-sidecar-kube-api',
});
/** The env variable the sidecar's --listen address takes the pod's IP from. */
export const POD_IP_ENV = 'SECRETS_SIDECAR_POD_IP';

export interface JsonPatchOperation {
  readonly op: 'add';
  readonly path: string;
  readonly value: unknown;
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => value !== null && typeof value === 'object' && !Array.isArray(value);
const objects = (value: unknown): Json[] => (Array.isArray(value) ? value.filter(isObject) : []);

/** The pod's app containers, refusing a pod whose spec is not what the API server would store. */
export function appContainerNames(pod: Json): string[] {
  const spec = pod['spec'];
  if (!isObject(spec) || !Array.isArray(spec['containers']) || spec['containers'].length === 0) throw new AdmissionRefusal('the pod has no spec.containers');
  return spec['containers'].map((c, i) => {
    const name = isObject(c) ? c['name'] : undefined;
    if (typeof name !== 'string' || name === '') throw new AdmissionRefusal(`spec.containers[${i}] has no name`);
    return name;
  });
}

/** The pod's own init containers that have a name (the API server refuses the pod otherwise). */
export function initContainerNames(pod: Json): string[] {
  const spec = isObject(pod['spec']) ? pod['spec'] : {};
  return objects(spec['initContainers'])
    .map((c) => c['name'])
    .filter((name): name is string => typeof name === 'string' && name !== '');
}

/** Whether the webhook (or a hand-written manifest) already put the sidecar there: such a pod is left as it is. */
export function isInjected(pod: Json): boolean {
  const annotations = isObject(pod['metadata']) ? pod['metadata']['annotations'] : undefined;
  if (isObject(annotations) && annotations[ANNOTATION.status] !== undefined) return true;
  const spec = isObject(pod['spec']) ? pod['spec'] : {};
  return [...objects(spec['containers']), ...objects(spec['initContainers'])].some((c) => c['name'] === SIDECAR_NAME || c['name'] === INIT_NAME);
}

export function mutatePod(pod: Json, request: InjectionRequest, facts: SidecarFacts, config: WebhookConfig): JsonPatchOperation[] {
  const spec = pod['spec'] as Json;
  const metadata = isObject(pod['metadata']) ? pod['metadata'] : {};
  const containers = objects(spec['containers']);
  const initContainers = objects(spec['initContainers']);
  const volumes = objects(spec['volumes']);

  checkDestinations(facts, request);
  checkReaders(pod, request, facts);
  const tokenMounts = tokenVolumes(facts, request, config);
  const ours = [VOLUME.secrets, VOLUME.config, VOLUME.cache, ...tokenMounts.map((t) => t.volume.name)];
  // The pod shares one network namespace: an app already on the probe port would keep the sidecar from binding it.
  const taken = [...containers, ...initContainers].find((c) => objects(c['ports']).some((p) => p['containerPort'] === config.probePort));
  if (taken)
    throw new AdmissionRefusal(
      `${ANNOTATION.inject}: container ${quote(taken['name'])} declares port ${config.probePort}, which the sidecar listens on for its probes (the webhook's probe_port)`,
    );
  const clash = volumes.find((v) => ours.includes(v['name'] as string));
  if (clash) throw new AdmissionRefusal(`${ANNOTATION.inject}: the pod already has a volume named ${quote(clash['name'])}, which the sidecar needs`);

  const withSecrets = (container: Json): Json => {
    if (!request.containers.includes(container['name'] as string)) return container;
    const mounts = objects(container['volumeMounts']);
    if (mounts.some((m) => m['mountPath'] === request.secretsPath))
      throw new AdmissionRefusal(`${ANNOTATION.secretsPath}: container ${quote(container['name'])} already mounts something at ${request.secretsPath}`);
    return { ...container, volumeMounts: [...mounts, { name: VOLUME.secrets, mountPath: request.secretsPath, readOnly: true }] };
  };
  const appContainers = containers.map(withSecrets);
  // The pod's own init containers run after ours: after `once`, or once the native sidecar's first render is done.
  const ownInit = initContainers.map(withSecrets);

  const base = sidecarBase(pod, request, config, tokenMounts);
  const listen = ['--listen', `$(${POD_IP_ENV}):${config.probePort}`];
  const cache = ['--cache-dir', CACHE_PATH];
  const once = { ...base, name: request.mode === 'sidecar' ? INIT_NAME : SIDECAR_NAME, args: ['once', '-c', SIDECAR_CONFIG_FILE, ...cache] };
  const probes = {
    ports: [{ name: 'sidecar-http', containerPort: config.probePort, protocol: 'TCP' }],
    env: [{ name: POD_IP_ENV, valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }],
    readinessProbe: httpProbe('/readyz', config, { periodSeconds: 10, failureThreshold: 3 }),
    livenessProbe: httpProbe('/healthz', config, { periodSeconds: 10, failureThreshold: 6 }),
  };
  const run = { ...base, name: SIDECAR_NAME, args: ['run', '-c', SIDECAR_CONFIG_FILE, ...listen, ...cache], ...probes };

  let newInit = ownInit;
  let newContainers = appContainers;
  if (request.mode === 'native') {
    // Started before the app and kept up; the app starts once the first render made /readyz answer 200.
    const native = { ...run, restartPolicy: 'Always', startupProbe: httpProbe('/readyz', config, { periodSeconds: 1, failureThreshold: 300 }) };
    newInit = [native, ...ownInit];
  } else if (request.mode === 'sidecar') {
    newInit = [once, ...ownInit];
    newContainers = [run, ...appContainers];
  } else {
    newInit = [once, ...ownInit];
  }

  const newVolumes = [
    ...volumes,
    { name: VOLUME.secrets, emptyDir: { medium: 'Memory', sizeLimit: config.secretsSizeLimit } },
    { name: VOLUME.config, configMap: { name: request.configMap } },
    { name: VOLUME.cache, emptyDir: { medium: 'Memory', sizeLimit: config.cacheSizeLimit } },
    ...tokenMounts.map((t) => t.volume),
  ];
  const annotations = isObject(metadata['annotations']) ? metadata['annotations'] : {};
  const patch: JsonPatchOperation[] = [
    { op: 'add', path: '/spec/volumes', value: newVolumes },
    { op: 'add', path: '/spec/initContainers', value: newInit },
    { op: 'add', path: '/spec/containers', value: newContainers },
    { op: 'add', path: '/metadata/annotations', value: { ...annotations, [ANNOTATION.status]: 'injected' } },
  ];
  if (facts.signalsProcess) patch.push({ op: 'add', path: '/spec/shareProcessNamespace', value: true });
  return patch;
}

/**
 * What the API server shows whoever creates the pod (kubectl prints it): a shared process namespace lets a
 * container of the sidecar's user, which the app's are, read the sidecar's files through /proc, its cache too.
 */
export function injectionWarnings(facts: SidecarFacts): string[] {
  return facts.signalsProcess && facts.cachesLoginToken
    ? ['secrets-sidecar: shareProcessNamespace lets the app read the Vault token in /proc/<sidecar>/root; notify by http']
    : [];
}

function httpProbe(path: string, config: WebhookConfig, timing: { periodSeconds: number; failureThreshold: number }) {
  return { httpGet: { path, port: config.probePort, scheme: 'HTTP' }, timeoutSeconds: 2, ...timing };
}

interface TokenMount {
  readonly volume: Json & { name: string };
  readonly mountPath: string;
}

/**
 * One projected service-account token volume per directory the config reads a Kubernetes token from, and, for a
 * rollout target that works in-cluster, the service-account directory the kubelet would have mounted (token for
 * the API server, its CA, the namespace): the API server's own service-account admission ran before this webhook,
 * so an injected container gets none by itself.
 */
function tokenVolumes(facts: SidecarFacts, request: InjectionRequest, config: WebhookConfig): TokenMount[] {
  const byDir = new Map<string, string[]>();
  for (const file of facts.kubernetesTokenFiles) {
    const dir = posix.dirname(file);
    if (facts.rolloutInCluster && dir === SERVICE_ACCOUNT_DIR)
      throw new AdmissionRefusal(
        `${ANNOTATION.config}: sidecar.hcl logs in to Vault with a token in ${SERVICE_ACCOUNT_DIR} and also restarts a workload in-cluster, which needs that directory's API-server token; give auth "kubernetes" a jwt_file elsewhere (such as /var/run/secrets/vault/token)`,
      );
    const taken = [request.secretsPath, CONFIG_PATH, CACHE_PATH].find((p) => dir === p || dir.startsWith(`${p}/`) || p.startsWith(`${dir}/`));
    if (taken !== undefined || dir === '/')
      throw new AdmissionRefusal(
        `${ANNOTATION.config}: sidecar.hcl reads a Kubernetes token from ${quote(file)}, where the webhook cannot mount one (it overlaps ${taken ?? '/'}); use the default jwt_file`,
      );
    byDir.set(dir, [...(byDir.get(dir) ?? []), posix.basename(file)]);
  }
  const mounts: TokenMount[] = [...byDir].map(([dir, names], i) => ({
    mountPath: dir,
    volume: {
      name: `${VOLUME.token}${i === 0 ? '' : `-${i}`}`,
      projected: {
        sources: names.map((path) => ({ serviceAccountToken: { audience: config.tokenAudience, expirationSeconds: config.tokenExpirationSeconds, path } })),
      },
    },
  }));
  if (facts.rolloutInCluster)
    mounts.push({
      mountPath: SERVICE_ACCOUNT_DIR,
      volume: {
        name: VOLUME.kubeApi,
        projected: {
          sources: [
            // No audience: the API server's own, as the kubelet's service-account volume has.
            { serviceAccountToken: { expirationSeconds: config.tokenExpirationSeconds, path: 'token' } },
            { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
            { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
          ],
        },
      },
    });
  return mounts;
}

/** A template written outside the shared volume would land on the sidecar's read-only root: refuse it now. */
function checkDestinations(facts: SidecarFacts, request: InjectionRequest): void {
  const outside = facts.destinations.find((d) => !d.startsWith(`${request.secretsPath}/`));
  if (outside !== undefined)
    throw new AdmissionRefusal(
      `${ANNOTATION.config}: sidecar.hcl writes ${quote(outside)}, outside the secrets volume at ${request.secretsPath} (${ANNOTATION.secretsPath}); point every destination there`,
    );
}

/**
 * The sidecar runs as the first served container's user: another served container that runs as another user
 * (not root) could not read files only their owner may read, and would fail on them long after admission.
 */
function checkReaders(pod: Json, request: InjectionRequest, facts: SidecarFacts): void {
  if (facts.ownerOnlyPerms === undefined) return;
  const [first, ...others] = served(pod, request);
  if (first === undefined) return;
  const owner = runAs(pod, first)['runAsUser'];
  if (owner === undefined) return;
  const other = others.find((c) => {
    const user = runAs(pod, c)['runAsUser'];
    return user !== undefined && user !== owner;
  });
  if (other === undefined) return;
  throw new AdmissionRefusal(
    `${ANNOTATION.containers}: containers ${quote(first['name'])} (runAsUser ${owner}) and ${quote(other['name'])} (runAsUser ${runAs(pod, other)['runAsUser']}) run as different users, and sidecar.hcl writes files only their owner can read (perms ${ownerOnly(facts.ownerOnlyPerms)}); the sidecar runs as the first: list only containers of one user, or give the templates perms their group can read`,
  );
}

const ownerOnly = (perms: number) => `0${perms.toString(8).padStart(3, '0')}`;

/** What the injected containers share: image, resources, restricted security context, mounts. */
function sidecarBase(pod: Json, request: InjectionRequest, config: WebhookConfig, tokens: readonly TokenMount[]): Json {
  const resources: Json = {};
  const pick = (amounts: { cpu: string | undefined; memory: string | undefined }) =>
    Object.fromEntries(Object.entries(amounts).filter(([, v]) => v !== undefined)) as Record<string, string>;
  if (Object.keys(pick(request.requests)).length > 0) resources['requests'] = pick(request.requests);
  if (Object.keys(pick(request.limits)).length > 0) resources['limits'] = pick(request.limits);
  return {
    image: config.image,
    ...(config.imagePullPolicy ? { imagePullPolicy: config.imagePullPolicy } : {}),
    resources,
    securityContext: securityContext(pod, request),
    volumeMounts: [
      { name: VOLUME.secrets, mountPath: request.secretsPath },
      { name: VOLUME.config, mountPath: CONFIG_PATH, readOnly: true },
      { name: VOLUME.cache, mountPath: CACHE_PATH },
      ...tokens.map((t) => ({ name: t.volume.name, mountPath: t.mountPath, readOnly: true })),
    ],
  };
}

/** PodSecurity restricted, as the app's user and group when the pod or the first served container sets them. */
function securityContext(pod: Json, request: InjectionRequest): Json {
  const [first] = served(pod, request);
  const { runAsUser: user, runAsGroup: group } = first ? runAs(pod, first) : {};
  return {
    runAsNonRoot: true,
    ...(user !== undefined ? { runAsUser: user } : {}),
    ...(group !== undefined ? { runAsGroup: group } : {}),
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** The containers that get the secrets: app containers first, then the pod's own init containers. */
function served(pod: Json, request: InjectionRequest): Json[] {
  const spec = pod['spec'] as Json;
  return [...objects(spec['containers']), ...objects(spec['initContainers'])].filter((c) => request.containers.includes(c['name'] as string));
}

/** A container's user and group: its own over the pod's; root is not carried over (a root app reads anyway). */
function runAs(pod: Json, container: Json): { runAsUser?: number | undefined; runAsGroup?: number | undefined } {
  const spec = pod['spec'] as Json;
  const podContext = isObject(spec['securityContext']) ? spec['securityContext'] : {};
  const own = isObject(container['securityContext']) ? container['securityContext'] : {};
  const id = (key: string): number | undefined => {
    const value = own[key] ?? podContext[key];
    return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : undefined;
  };
  return { runAsUser: id('runAsUser'), runAsGroup: id('runAsGroup') };
}
