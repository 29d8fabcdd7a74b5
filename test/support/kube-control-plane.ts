import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './dirs.js';
import { freePort } from './openbao.js';

export const KUBE_APISERVER = join(REPO_ROOT, '.cache', 'bin', 'kube-apiserver');
export const ETCD = join(REPO_ROOT, '.cache', 'bin', 'etcd');
export const HELM = join(REPO_ROOT, '.cache', 'bin', 'helm');

/** What the API server answered: the status and the parsed JSON body (null when it was empty). */
export interface KubeResponse {
  readonly status: number;
  readonly body: Record<string, unknown> | null;
}

export interface KubeRequestOptions {
  /** A bearer token other than the admin's (a service account's, to test RBAC as that account). */
  readonly token?: string;
  /** Default application/json; patches say which kind (merge-patch, strategic-merge-patch, json-patch, apply). */
  readonly contentType?: string;
}

/**
 * A private Kubernetes control plane: etcd and kube-apiserver on free loopback ports, an admin token, RBAC,
 * PodSecurity, TokenRequest and TokenReview, admission webhooks. No kubelet and no controller manager: pods are
 * admitted and stored but never run, and no namespace gets a `default` ServiceAccount by itself.
 */
export interface KubeControlPlane {
  /** https://127.0.0.1:<port> */
  readonly server: string;
  /** The API server's self-signed serving certificate (PEM), which is also the CA to trust it by. */
  readonly caCert: string;
  readonly caFile: string;
  /** A token in group system:masters. */
  readonly adminToken: string;
  /** The service-account issuer the API server signs tokens with. */
  readonly issuer: string;
  /** Calls the API as admin (or `options.token`); never throws on a status, only on a transport failure. */
  api(method: string, path: string, body?: unknown, options?: KubeRequestOptions): Promise<KubeResponse>;
  /** Like `api`, but throws unless the status is 2xx; returns the body. */
  apiOk(method: string, path: string, body?: unknown, options?: KubeRequestOptions): Promise<Record<string, unknown>>;
  /** Creates a namespace (with labels, e.g. PodSecurity's) and its `default` ServiceAccount. */
  createNamespace(name: string, labels?: Record<string, string>): Promise<void>;
  createServiceAccount(namespace: string, name: string): Promise<void>;
  /** A signed service-account token from TokenRequest, as the kubelet projects it into a pod. */
  serviceAccountToken(namespace: string, name: string, spec?: TokenRequestSpec): Promise<string>;
  /**
   * What TokenReview says of `token` for `audiences` (default: the API server's own). The API server caches a
   * successful review for 10 s, so a token invalidated after a review may still pass for that long: poll.
   */
  reviewToken(token: string, audiences?: readonly string[]): Promise<TokenReviewStatus>;
  /** Resolves once TokenReview refuses `token` (polls through the 10 s cache); rejects after `timeoutMs`. */
  waitUntilTokenRefused(token: string, audiences?: readonly string[], timeoutMs?: number): Promise<void>;
  /** Writes a kubeconfig for this server with `token` (default the admin's) to `path`. */
  writeKubeconfig(path: string, token?: string): Promise<void>;
  stop(): Promise<void>;
}

export interface TokenReviewStatus {
  readonly authenticated?: boolean;
  readonly user?: { readonly username?: string; readonly groups?: readonly string[] };
  readonly audiences?: readonly string[];
  readonly error?: string;
}

export interface TokenRequestSpec {
  readonly audiences?: readonly string[];
  readonly expirationSeconds?: number;
  /** Binds the token to an object (a Secret or Pod): deleting that object invalidates the token. */
  readonly boundObjectRef?: { readonly kind: 'Secret' | 'Pod'; readonly apiVersion: 'v1'; readonly name: string; readonly uid?: string };
}

const ISSUER = 'https://kubernetes.default.svc.cluster.local';
const START_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 3_000;

export async function startKubeControlPlane(): Promise<KubeControlPlane> {
  for (const binary of [KUBE_APISERVER, ETCD]) {
    if (!existsSync(binary)) throw new Error(`${binary} is missing: run test/infra/install-test-tools.sh (npm test does)`);
  }
  const dir = await mkdtemp(join(tmpdir(), 'kube-'));
  const children: ChildProcess[] = [];
  try {
    const [etcdClient, etcdPeer, securePort] = [await freePort(), await freePort(), await freePort()];
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    const peerUrl = `http://127.0.0.1:${etcdPeer}`;
    const etcd = spawnLogged(ETCD, [
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=default=${peerUrl}`,
      '--log-level=error',
    ]);
    children.push(etcd.child);

    const adminToken = `admin-${randomBytes(16).toString('hex')}`;
    await writeFile(join(dir, 'tokens.csv'), `${adminToken},admin,1,"system:masters"\n`, { mode: 0o600 });
    const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    openssl('genrsa', '-out', join(dir, 'sa.key'), '2048');
    openssl('rsa', '-in', join(dir, 'sa.key'), '-pubout', '-out', join(dir, 'sa.pub'));
    await mkdir(join(dir, 'certs'));

    const apiserver = spawnLogged(KUBE_APISERVER, [
      `--etcd-servers=${etcdUrl}`,
      `--secure-port=${securePort}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--cert-dir=${join(dir, 'certs')}`,
      `--service-account-issuer=${ISSUER}`,
      `--service-account-key-file=${join(dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
      `--token-auth-file=${join(dir, 'tokens.csv')}`,
      '--authorization-mode=RBAC',
      '--service-cluster-ip-range=10.0.0.0/24',
      '--enable-admission-plugins=PodSecurity',
      // As on a real cluster: privileged pods are possible, and PodSecurity decides per namespace. Without it the
      // API server refuses them itself, and a PodSecurity test would prove nothing.
      '--allow-privileged=true',
      '--v=0',
    ]);
    children.push(apiserver.child);

    const server = `https://127.0.0.1:${securePort}`;
    const caFile = join(dir, 'certs', 'apiserver.crt');
    const caCert = await waitForCertificate(caFile, apiserver, etcd);
    const api: KubeControlPlane['api'] = (method, path, body, options = {}) =>
      callApi(server, caCert, options.token ?? adminToken, method, path, body, options.contentType);
    await waitForReady(api, apiserver, etcd);

    const apiOk: KubeControlPlane['apiOk'] = async (method, path, body, options) => {
      const response = await api(method, path, body, options);
      if (response.status < 200 || response.status > 299) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(response.body)}`);
      return response.body ?? {};
    };
    const createServiceAccount = async (namespace: string, name: string) => {
      await apiOk('POST', `/api/v1/namespaces/${namespace}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name } });
    };

    const reviewToken = async (token: string, audiences?: readonly string[]): Promise<TokenReviewStatus> => {
      const answer = await apiOk('POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenReview',
        spec: { token, ...(audiences ? { audiences } : {}) },
      });
      return answer['status'] ?? {};
    };

    return {
      server,
      caCert,
      caFile,
      adminToken,
      issuer: ISSUER,
      api,
      apiOk,
      createServiceAccount,
      createNamespace: async (name, labels = {}) => {
        await apiOk('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
        await createServiceAccount(name, 'default');
      },
      serviceAccountToken: async (namespace, name, spec = {}) => {
        const answer = await apiOk('POST', `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`, {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenRequest',
          spec: { audiences: spec.audiences ?? [ISSUER], expirationSeconds: spec.expirationSeconds ?? 3600, boundObjectRef: spec.boundObjectRef },
        });
        return (answer['status'] as { token: string }).token;
      },
      reviewToken,
      waitUntilTokenRefused: async (token, audiences, timeoutMs = 30_000) => {
        for (const deadline = Date.now() + timeoutMs; (await reviewToken(token, audiences)).authenticated === true;) {
          if (Date.now() > deadline) throw new Error(`TokenReview still accepts the token after ${timeoutMs} ms`);
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      },
      writeKubeconfig: async (path, token = adminToken) => {
        await writeFile(path, kubeconfig(server, caCert, token), { mode: 0o600 });
      },
      stop: async () => {
        await stopAll(children);
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await stopAll(children);
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

interface LoggedChild {
  readonly child: ChildProcess;
  /** The last few KiB the process printed, for the error when it does not start. */
  tail(): string;
}

function spawnLogged(command: string, args: readonly string[]): LoggedChild {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { child, tail: () => output };
}

async function waitForCertificate(file: string, ...servers: LoggedChild[]): Promise<string> {
  return pollUntil('the API server wrote its serving certificate', servers, async () => (existsSync(file) ? readFile(file, 'utf8') : undefined));
}

async function waitForReady(api: KubeControlPlane['api'], ...servers: LoggedChild[]): Promise<void> {
  await pollUntil('the API server answered /readyz', servers, async () => {
    const answer = await api('GET', '/readyz').catch(() => undefined);
    return answer?.status === 200 ? true : undefined;
  });
}

/** Polls `probe` every 100 ms until it yields a value; fails when a server exits or after START_TIMEOUT_MS. */
async function pollUntil<T>(what: string, servers: readonly LoggedChild[], probe: () => Promise<T | undefined>): Promise<T> {
  for (const deadline = Date.now() + START_TIMEOUT_MS; ;) {
    const exited = servers.find((server) => server.child.exitCode !== null || server.child.signalCode !== null);
    if (exited) throw new Error(`${exited.child.spawnfile} exited before ${what}: ${exited.tail()}`);
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}: ${servers.map((s) => s.tail()).join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function callApi(
  server: string,
  ca: string,
  token: string,
  method: string,
  path: string,
  body: unknown,
  contentType = 'application/json',
): Promise<KubeResponse> {
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, server),
      {
        method,
        ca,
        timeout: 30_000,
        headers: {
          Authorization: `Bearer ${token}`,
          Accept: 'application/json',
          ...(payload === undefined ? {} : { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(payload) }),
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let parsed: Record<string, unknown> | null = null;
          try {
            parsed = text ? (JSON.parse(text) as Record<string, unknown>) : null;
          } catch {
            parsed = { text };
          }
          resolve({ status: response.statusCode ?? 0, body: parsed });
        });
        response.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within 30 s`)));
    req.on('error', reject);
    req.end(payload);
  });
}

function kubeconfig(server: string, caCert: string, token: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'test', cluster: { server, 'certificate-authority-data': Buffer.from(caCert).toString('base64') } }],
    users: [{ name: 'test', user: { token } }],
    contexts: [{ name: 'test', context: { cluster: 'test', user: 'test', namespace: 'default' } }],
    'current-context': 'test',
  });
}

/** SIGTERM, then SIGKILL after a short grace: the API server drains slowly, and a test need not wait for it. */
async function stopAll(children: readonly ChildProcess[]): Promise<void> {
  await Promise.all(
    [...children].reverse().map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    }),
  );
}
