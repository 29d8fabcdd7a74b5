import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { readBounded } from '../bounded-read.js';
import { SidecarError } from '../errors.js';
import { SERVICE_ACCOUNT_DIR, inClusterServer } from '../kubernetes-pod.js';

/** For tests only: another directory laid out as the kubelet lays out SERVICE_ACCOUNT_DIR. */
export const SERVICE_ACCOUNT_DIR_ENV = 'SECRETS_SIDECAR_SERVICE_ACCOUNT_DIR';

/** How to reach one API server, and as whom. */
export interface KubeConnection {
  /** https://host:port, no trailing slash. */
  readonly server: string;
  readonly ca: Buffer | undefined;
  readonly cert: Buffer | undefined;
  readonly key: Buffer | undefined;
  /** The bearer token, read again for each request: the kubelet replaces a projected token before it expires. */
  readonly token: (() => Promise<string>) | undefined;
  /** The namespace a target without one uses: the service account's, or the kubeconfig context's. */
  readonly namespace: string | undefined;
  /** What messages call this connection. */
  readonly source: string;
}

const connectionError = (message: string, hint?: string) => new SidecarError('SIDECAR_ERR_ROLLOUT_CONNECTION', message, hint === undefined ? {} : { hint });

/** A small file (token, CA, key): bounded like every local read; its absence is a connection error naming the file. */
async function readSmall(path: string, what: string): Promise<Buffer> {
  try {
    return await readBounded(path, { maxBytes: 1024 * 1024 });
  } catch (error) {
    throw connectionError(`cannot read ${what} ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

async function readToken(path: string, what: string): Promise<string> {
  const token = (await readSmall(path, what)).toString('utf8').trim();
  if (!/^[\x21-\x7e]+$/.test(token)) throw connectionError(`${what} ${path} is empty or not a token`);
  return token;
}

/** In-cluster: the service-account token, CA and namespace the kubelet mounts, and the service address Kubernetes sets. */
export async function inClusterConnection(env: Readonly<Record<string, string | undefined>>): Promise<KubeConnection> {
  const dir = env[SERVICE_ACCOUNT_DIR_ENV] || SERVICE_ACCOUNT_DIR;
  const server = inClusterServer(env, (problem) => connectionError(problem));
  if (server === undefined)
    throw connectionError(
      'a rollout target without kubeconfig runs in-cluster, and KUBERNETES_SERVICE_HOST is not set',
      'set kubeconfig in the rollout block when not in a pod',
    );
  const tokenFile = join(dir, 'token');
  await readToken(tokenFile, 'the service-account token');
  const namespace = (await readSmall(join(dir, 'namespace'), 'the service-account namespace').catch(() => undefined))?.toString('utf8').trim();
  return {
    server,
    ca: await readSmall(join(dir, 'ca.crt'), 'the cluster CA'),
    cert: undefined,
    key: undefined,
    token: () => readToken(tokenFile, 'the service-account token'),
    namespace: namespace || undefined,
    source: `in-cluster (${dir})`,
  };
}

/**
 * A kubeconfig's current context: server, CA, and a token, token file or client certificate. Exec plugins, auth
 * providers, basic auth and insecure-skip-tls-verify are refused: they would run commands or weaken TLS for a sidecar
 * that holds secrets.
 */
export async function kubeconfigConnection(path: string): Promise<KubeConnection> {
  const text = (await readSmall(path, 'the kubeconfig')).toString('utf8');
  let doc: Record<string, unknown>;
  try {
    doc = (parseYaml(text, { maxAliasCount: 10 }) ?? {}) as Record<string, unknown>;
  } catch {
    throw connectionError(`the kubeconfig ${path} is not YAML or JSON`);
  }
  const pick = (list: unknown, name: unknown, what: string): Record<string, unknown> => {
    const found = (Array.isArray(list) ? (list as Record<string, unknown>[]) : []).find((entry) => entry?.name === name);
    const inner = found?.[what];
    if (inner === null || typeof inner !== 'object')
      throw connectionError(`the kubeconfig ${path} has no ${what} named ${JSON.stringify(String(name)).slice(0, 80)}`);
    return inner as Record<string, unknown>;
  };
  const context = pick(doc['contexts'], doc['current-context'], 'context');
  const cluster = pick(doc['clusters'], context['cluster'], 'cluster');
  const user = context['user'] === undefined ? {} : pick(doc['users'], context['user'], 'user');
  const base = dirname(path);
  const file = (value: unknown) => (typeof value === 'string' ? (isAbsolute(value) ? value : resolve(base, value)) : undefined);
  const material = async (data: unknown, pathValue: unknown, what: string) => {
    if (typeof data === 'string') return Buffer.from(data, 'base64');
    const at = file(pathValue);
    return at === undefined ? undefined : readSmall(at, `the kubeconfig's ${what}`);
  };
  for (const unsupported of ['exec', 'auth-provider', 'username', 'password']) {
    if (user[unsupported] !== undefined)
      throw connectionError(`the kubeconfig ${path}: "${unsupported}" credentials are not supported`, 'use a token, a token file or a client certificate');
  }
  if (cluster['insecure-skip-tls-verify'] === true) throw connectionError(`the kubeconfig ${path}: insecure-skip-tls-verify is refused`, 'give the cluster CA');
  const server = typeof cluster['server'] === 'string' ? cluster['server'].replace(/\/+$/, '') : '';
  if (!/^https:\/\/[^/?#@]+$/.test(server)) throw connectionError(`the kubeconfig ${path}: the cluster's server is not an https:// address without a path`);
  const tokenFile = file(user['tokenFile']);
  const token = typeof user['token'] === 'string' ? user['token'] : undefined;
  return {
    server,
    ca: await material(cluster['certificate-authority-data'], cluster['certificate-authority'], 'certificate-authority'),
    cert: await material(user['client-certificate-data'], user['client-certificate'], 'client-certificate'),
    key: await material(user['client-key-data'], user['client-key'], 'client-key'),
    token: token !== undefined ? () => Promise.resolve(token) : tokenFile !== undefined ? () => readToken(tokenFile, "the kubeconfig's tokenFile") : undefined,
    // As kubectl: a context without a namespace means "default".
    namespace: typeof context['namespace'] === 'string' && context['namespace'] !== '' ? context['namespace'] : 'default',
    source: `kubeconfig ${path}`,
  };
}

/** The connection a rollout target's settings name. */
export function openConnection(kubeconfig: string | undefined, env: Readonly<Record<string, string | undefined>>): Promise<KubeConnection> {
  return kubeconfig === undefined ? inClusterConnection(env) : kubeconfigConnection(kubeconfig);
}
