import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './dirs.js';
import { makeCertificates } from './test-certs.js';
import { waitUntilUp } from './wait-until-up.js';

export const BAO = join(REPO_ROOT, '.cache', 'bin', 'bao');

/** A real OpenBao dev server on a free loopback port, with a file audit device to count requests. */
export interface OpenBao {
  readonly address: string;
  readonly rootToken: string;
  /** With `tls`: HTTPS listeners beside the plain one, with certificates from a CA made for the test. */
  readonly tls: OpenBaoTls | undefined;
  /** Calls the HTTP API as root (or with `token`); returns the parsed body (or null for 204). */
  api(method: string, path: string, body?: unknown, token?: string): Promise<Record<string, unknown> | null>;
  /** The requests the audit log recorded (one entry per response), in order. */
  auditedRequests(): Promise<{ path: string; operation: string }[]>;
  stop(): Promise<void>;
}

/** Creates (or updates) AppRole role `name` with `settings`; returns its role_id and a fresh secret_id. */
export async function appRoleCredentials(bao: OpenBao, name: string, settings: object): Promise<{ roleId: string; secretId: string }> {
  await bao.api('POST', `auth/approle/role/${name}`, settings);
  const roleId = ((await bao.api('GET', `auth/approle/role/${name}/role-id`))?.['data'] as { role_id: string }).role_id;
  const secretId = ((await bao.api('POST', `auth/approle/role/${name}/secret-id`))?.['data'] as { secret_id: string }).secret_id;
  return { roleId, secretId };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface OpenBaoOptions {
  /** Also listen on HTTPS, and on HTTPS that requires a client certificate. */
  readonly tls?: boolean;
}

export interface OpenBaoTls {
  /** https:// with a server certificate for 127.0.0.1 and localhost. */
  readonly address: string;
  /** https:// that refuses clients without a certificate signed by the test CA. */
  readonly mutualAddress: string;
  readonly caCert: string;
  readonly clientCert: string;
  readonly clientKey: string;
}

export async function startOpenBao(options: OpenBaoOptions = {}): Promise<OpenBao> {
  if (!existsSync(BAO)) throw new Error(`OpenBao is not installed at ${BAO}: run test/infra/install-test-tools.sh (npm test does)`);
  const dir = await mkdtemp(join(tmpdir(), 'openbao-'));
  const auditLog = join(dir, 'audit.log');
  const tls = options.tls ? await makeTls(dir) : undefined;
  await writeFile(join(dir, 'config.hcl'), `audit "file" "tests" {\n  options {\n    file_path = "${auditLog}"\n  }\n}\n${tls?.listeners ?? ''}`);
  const rootToken = `root-${randomBytes(12).toString('hex')}`;
  const port = await freePort();
  const address = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    BAO,
    ['server', '-dev', `-dev-root-token-id=${rootToken}`, `-dev-listen-address=127.0.0.1:${port}`, '-dev-no-store-token', `-config=${join(dir, 'config.hcl')}`],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));

  const api: OpenBao['api'] = async (method, path, body, token = rootToken) => {
    const response = await fetch(`${address}/v1/${path}`, {
      method,
      headers: { 'X-Vault-Token': token, 'Content-Type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (response.status === 204) return null;
    const parsed = (await response.json()) as Record<string, unknown>;
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(parsed['errors'])}`);
    return parsed;
  };

  await waitUntilUp(`${address}/v1/sys/health`, child, 'OpenBao', 10_000, () => stderr.slice(-2000));

  return {
    address,
    rootToken,
    tls: tls?.endpoints,
    api,
    auditedRequests: async () => {
      const text = await readFile(auditLog, 'utf8').catch(() => '');
      return text
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { type: string; request: { path: string; operation: string } })
        .filter((entry) => entry.type === 'response')
        .map((entry) => ({ path: entry.request.path, operation: entry.request.operation }));
    },
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** HTTPS listeners with a server certificate for 127.0.0.1/localhost and a client certificate from a test CA. */
async function makeTls(dir: string): Promise<{ endpoints: OpenBaoTls; listeners: string }> {
  const certs = await makeCertificates(dir, [
    ['server', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
    ['client', 'extendedKeyUsage=clientAuth'],
  ]);
  const file = (name: string) => join(dir, name);
  const [tlsPort, mutualPort] = [await freePort(), await freePort()];
  const listener = (port: number, mutual: boolean) =>
    `listener "tcp" {\n  address = "127.0.0.1:${port}"\n  tls_cert_file = "${file('server.pem')}"\n  tls_key_file = "${file('server.key')}"\n` +
    (mutual ? `  tls_client_ca_file = "${file('ca.pem')}"\n  tls_require_and_verify_client_cert = true\n` : '') +
    '}\n';
  return {
    endpoints: {
      address: `https://127.0.0.1:${tlsPort}`,
      mutualAddress: `https://127.0.0.1:${mutualPort}`,
      caCert: certs.caCert,
      clientCert: certs.cert('client').cert,
      clientKey: certs.cert('client').key,
    },
    listeners: listener(tlsPort, false) + listener(mutualPort, true),
  };
}
