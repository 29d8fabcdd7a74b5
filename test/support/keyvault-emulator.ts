import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCertificates } from './test-certs.js';

/*
 * A wire emulator of the Azure Key Vault secrets API, written from Microsoft's REST reference, for the one Azure
 * service that has no server to install here. It speaks the subset the backend uses (Get Secret, Get Secret
 * Versions, Get Secrets), with Key Vault's bearer challenge, error bodies and attributes, over TLS with a
 * certificate for <name>.vault.azure.net (mapped to 127.0.0.1 in /etc/hosts while it runs), and serves the
 * App Service shape of the managed identity endpoint on plain HTTP, so the real SDK and the real credential chain
 * run unmodified. Tests drive it in process; `node scripts/keyvault-emulator.mjs --port N` runs it alone.
 */

export interface SecretAttributes {
  readonly enabled?: boolean;
  /** Epoch seconds. */
  readonly nbf?: number;
  readonly exp?: number;
}

interface SecretVersion {
  readonly version: string;
  readonly value: string;
  readonly contentType: string | undefined;
  readonly attributes: Required<Pick<SecretAttributes, 'enabled'>> & SecretAttributes & { readonly created: number; readonly updated: number };
  /** For a certificate's backing secret: the key's id. */
  readonly kid: string | undefined;
}

export interface KeyVaultEmulator {
  /** https://<name>.vault.azure.net:<port> */
  readonly vaultUrl: string;
  /** The PEM file of the CA that signed the vault's certificate (for NODE_EXTRA_CA_CERTS). */
  readonly caCert: string;
  /** The variables that point ManagedIdentityCredential (and DefaultAzureCredential) at the emulator. */
  readonly identityEnv: Readonly<Record<string, string>>;
  /** Adds a version of a secret (the new latest one); returns its version id. */
  setSecret(name: string, value: string, options?: { contentType?: string; attributes?: SecretAttributes; certificate?: boolean }): string;
  /** The next `count` authenticated requests get 429 with this Retry-After (seconds). */
  throttle(count: number, retryAfterSeconds: number): void;
  /**
   * What the next `count` reads of a secret's value get instead of a plain answer: `trickle` (a byte every
   * 500 ms), `stall` (headers never come), `reset` (TCP RST), `not-json` (200 with an HTML page); undefined: normal.
   */
  fault(kind: EmulatorFault | undefined, count?: number): void;
  /** Resolves when `route` gets its next request (counted from this call). */
  requested(route: string): Promise<void>;
  /** How many requests a route got: "GET /secrets/{name}" (latest), "GET /secrets/{name}/{version}", "GET /secrets/{name}/versions", "GET /secrets", "token". */
  requests(route: string): number;
  /** Every access token handed out, so tests can look for them in logs. */
  readonly tokens: readonly string[];
  stop(): Promise<void>;
}

const RESOURCE = 'https://vault.azure.net';

export type EmulatorFault = 'trickle' | 'stall' | 'reset' | 'not-json';

export async function startKeyVaultEmulator(options: { name?: string; port?: number; hosts?: boolean } = {}): Promise<KeyVaultEmulator> {
  const name = options.name ?? `sidecar-${randomBytes(4).toString('hex')}`;
  const host = `${name}.vault.azure.net`;
  const tenant = randomUUID();
  const dir = await mkdtemp(join(tmpdir(), 'keyvault-'));
  const certs = await makeCertificates(dir, [['vault', `subjectAltName=DNS:${host}`]]);
  const secrets = new Map<string, SecretVersion[]>();
  const counts = new Map<string, number>();
  const tokens: string[] = [];
  const identityHeader = randomBytes(16).toString('hex');
  let throttled = { count: 0, retryAfter: 0 };
  let faulty: { kind: EmulatorFault; count: number } | undefined;
  const timers = new Set<NodeJS.Timeout>();
  const waiting: { route: string; resolve: () => void }[] = [];
  const count = (route: string) => {
    counts.set(route, (counts.get(route) ?? 0) + 1);
    for (const w of waiting.filter((entry) => entry.route === route)) {
      waiting.splice(waiting.indexOf(w), 1);
      w.resolve();
    }
  };

  const vault = createHttpsServer({ cert: readFileSync(certs.cert('vault').cert), key: readFileSync(certs.cert('vault').key) }, (req, res) => {
    void handleVault(req, res).catch((error: unknown) => sendError(res, 500, 'InternalError', String(error)));
  });
  let vaultUrl = '';

  async function handleVault(req: IncomingMessage, res: ServerResponse): Promise<void> {
    await drain(req);
    const auth = req.headers.authorization ?? '';
    const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    if (!token || !tokens.includes(token)) {
      // The challenge the SDK expects before it asks its credential for a token.
      res.setHeader('WWW-Authenticate', `Bearer authorization="https://login.microsoftonline.com/${tenant}", resource="${RESOURCE}"`);
      return sendError(res, 401, 'Unauthorized', token ? 'AKV10032: Invalid issuer.' : 'AKV10000: Request is missing a Bearer or PoP token.');
    }
    const url = new URL(req.url ?? '/', vaultUrl);
    if (!url.searchParams.get('api-version')) return sendError(res, 400, 'BadParameter', 'The api-version query parameter is required.');
    if (throttled.count > 0) {
      throttled = { ...throttled, count: throttled.count - 1 };
      res.setHeader('Retry-After', String(throttled.retryAfter));
      return sendError(res, 429, 'Throttled', 'Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached');
    }
    const parts = url.pathname.split('/').filter(Boolean);
    if (req.method !== 'GET' || parts[0] !== 'secrets')
      return sendError(res, 405, 'BadParameter', `${req.method ?? '?'} ${url.pathname} is not supported by the emulator`);
    if (parts.length === 1) {
      count('GET /secrets');
      return sendJson(res, 200, {
        value: [...secrets.entries()].map(([secretName, versions]) => item(secretName, versions.at(-1) as SecretVersion, false)),
        nextLink: null,
      });
    }
    const secretName = parts[1] ?? '';
    const versions = secrets.get(secretName);
    if (parts[2] === 'versions') {
      count('GET /secrets/{name}/versions');
      if (!versions) return notFound(res, secretName);
      return sendJson(res, 200, { value: versions.map((v) => item(secretName, v, true)), nextLink: null });
    }
    count(parts[2] ? 'GET /secrets/{name}/{version}' : 'GET /secrets/{name}');
    const wanted = parts[2] ? versions?.find((v) => v.version === parts[2]) : versions?.at(-1);
    if (!wanted) return notFound(res, secretName, parts[2]);
    if (faulty && faulty.count > 0) {
      faulty.count--;
      return misbehave(faulty.kind, req, res, JSON.stringify({ ...item(secretName, wanted, true), value: wanted.value }));
    }
    if (!wanted.attributes.enabled) {
      return sendJson(res, 403, {
        error: { code: 'Forbidden', message: 'Operation get is not allowed on a disabled secret.', innererror: { code: 'SecretDisabled' } },
      });
    }
    return sendJson(res, 200, { ...item(secretName, wanted, true), value: wanted.value });
  }

  function misbehave(kind: EmulatorFault, req: IncomingMessage, res: ServerResponse, body: string): void {
    if (kind === 'reset') return void req.socket.resetAndDestroy();
    if (kind === 'stall') return;
    if (kind === 'not-json')
      return void res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end('<html><body>Sign in to the proxy</body></html>');
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(body)) });
    let sent = 0;
    const timer = setInterval(() => {
      res.write(body.slice(sent, sent + 1));
      if (++sent >= body.length) res.end();
      if (sent >= body.length) clearInterval(timer);
    }, 500);
    timers.add(timer);
    res.once('close', () => {
      clearInterval(timer);
      timers.delete(timer);
    });
  }

  function item(secretName: string, v: SecretVersion, withVersion: boolean): Record<string, unknown> {
    return {
      id: `${vaultUrl}/secrets/${secretName}${withVersion ? `/${v.version}` : ''}`,
      attributes: { ...v.attributes, recoveryLevel: 'Recoverable+Purgeable', recoverableDays: 90 },
      tags: {},
      ...(v.contentType ? { contentType: v.contentType } : {}),
      ...(v.kid ? { kid: v.kid, managed: true } : {}),
    };
  }

  // The App Service managed identity endpoint: plain HTTP on loopback, as the platform serves it.
  const identity = createHttpServer((req, res) => {
    void drain(req).then(() => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      count('token');
      if (req.headers['x-identity-header'] !== identityHeader)
        return sendJson(res, 401, { error: 'invalid_request', error_description: 'X-IDENTITY-HEADER is missing or wrong' });
      if (url.searchParams.get('resource') !== RESOURCE && url.searchParams.get('resource') !== `${RESOURCE}/`) {
        return sendJson(res, 400, { error: 'invalid_resource', error_description: `no access to ${url.searchParams.get('resource') ?? '?'}` });
      }
      const token = `kv-emulator-token-${randomBytes(24).toString('hex')}`;
      tokens.push(token);
      return sendJson(res, 200, { access_token: token, expires_on: String(Math.floor(Date.now() / 1000) + 3600), resource: RESOURCE, token_type: 'Bearer' });
    });
  });

  const listen = (server: Server, port: number) =>
    new Promise<number>((resolve) => server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
  const vaultPort = await listen(vault, options.port ?? 0);
  const identityPort = await listen(identity, 0);
  vaultUrl = `https://${host}:${vaultPort}`;
  const hostsLine = `127.0.0.1 ${host} # secrets-sidecar keyvault emulator ${process.pid}`;
  if (options.hosts !== false) await appendFile('/etc/hosts', `${hostsLine}\n`);

  return {
    vaultUrl,
    caCert: certs.caCert,
    identityEnv: { IDENTITY_ENDPOINT: `http://127.0.0.1:${identityPort}/msi/token`, IDENTITY_HEADER: identityHeader },
    setSecret(secretName, value, opts = {}) {
      const version = randomBytes(16).toString('hex');
      const now = Math.floor(Date.now() / 1000);
      const list = secrets.get(secretName) ?? [];
      list.push({
        version,
        value,
        contentType: opts.contentType,
        attributes: { enabled: opts.attributes?.enabled ?? true, ...opts.attributes, created: now, updated: now },
        kid: opts.certificate ? `${vaultUrl}/keys/${secretName}/${version}` : undefined,
      });
      secrets.set(secretName, list);
      return version;
    },
    throttle(n, retryAfterSeconds) {
      throttled = { count: n, retryAfter: retryAfterSeconds };
    },
    fault(kind, n = Infinity) {
      faulty = kind === undefined ? undefined : { kind, count: n };
    },
    requests: (route) => counts.get(route) ?? 0,
    requested: (route) => new Promise<void>((resolve) => waiting.push({ route, resolve })),
    tokens,
    stop: async () => {
      for (const timer of timers) clearInterval(timer);
      // Stalled and trickling answers hold their connections open; close would wait for them.
      vault.closeAllConnections();
      await Promise.all([vault, identity].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
      if (options.hosts !== false) {
        const hosts = await readFile('/etc/hosts', 'utf8');
        await writeFile(
          '/etc/hosts',
          hosts
            .split('\n')
            .filter((line) => line !== hostsLine)
            .join('\n'),
        );
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function drain(req: IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    req.resume();
    req.on('end', () => resolve());
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'x-ms-keyvault-service-version': '1.9.0.0' }).end(JSON.stringify(body));
}

function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  sendJson(res, status, { error: { code, message } });
}

function notFound(res: ServerResponse, name: string, version?: string): void {
  sendError(
    res,
    404,
    'SecretNotFound',
    `A secret with (name/id) ${name}${version ? `/${version}` : ''} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182`,
  );
}

// Standalone: node scripts/keyvault-emulator.mjs [--port N] [--name NAME] [--no-hosts]
if (process.argv[1]?.endsWith('keyvault-emulator.js')) {
  const arg = (flag: string) => process.argv[process.argv.indexOf(flag) + 1];
  const emulator = await startKeyVaultEmulator({
    ...(process.argv.includes('--port') ? { port: Number(arg('--port')) } : {}),
    ...(process.argv.includes('--name') ? { name: arg('--name') } : {}),
    hosts: !process.argv.includes('--no-hosts'),
  });
  emulator.setSecret('example', 'example-value');
  process.stdout.write(
    `${JSON.stringify({ vaultUrl: emulator.vaultUrl, NODE_EXTRA_CA_CERTS: emulator.caCert, ...emulator.identityEnv, secrets: ['example'] }, null, 2)}\n` +
      'Point the sidecar at vaultUrl with credential = "managed_identity" and these variables; Ctrl-C stops it.\n',
  );
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void emulator.stop().then(() => process.exit(0)));
}
