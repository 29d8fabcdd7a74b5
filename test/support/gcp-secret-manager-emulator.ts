import { generateKeyPairSync, randomBytes, verify, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { GrpcClient, grpc } from 'google-gax';
import { crc32c } from '../../src/backends/gcp/crc32c.js';
import { makeCertificates } from './test-certs.js';

/*
 * A wire emulator of Google Cloud Secret Manager (v1), for the one Google service that has no server to install
 * here. It serves the real service definition (the .proto the client ships) over gRPC with TLS, for a
 * certificate on "localhost" signed by a CA the sidecar trusts through NODE_EXTRA_CA_CERTS, so the real client
 * runs unmodified and sends its credentials over TLS only. Every call must carry a bearer token that is either
 * one the emulated metadata server handed out (the GCE/GKE workload-identity shape, plain HTTP as the platform
 * serves it) or a JWT self-signed by the service-account key the emulator made (what google-auth-library sends
 * for a key file), whose RS256 signature, issuer, audience and expiry are checked. It speaks GetSecretVersion and
 * AccessSecretVersion with Secret Manager's status codes and messages, and counts calls per method.
 */

export type VersionState = 'ENABLED' | 'DISABLED' | 'DESTROYED';

/** What tests count: the two RPCs, metadata-server tokens, accepted self-signed JWTs, refused calls. */
export type EmulatorCounter = 'GetSecretVersion' | 'AccessSecretVersion' | 'metadata token' | 'jwt' | 'unauthenticated';

export interface GcpSecretManagerEmulator {
  /** host:port for the backend's `endpoint`. */
  readonly endpoint: string;
  readonly project: string;
  /** The PEM file of the CA that signed the server's certificate (for NODE_EXTRA_CA_CERTS). */
  readonly caCert: string;
  /** GCE_METADATA_HOST, which points google-auth-library's metadata client at the emulated metadata server. */
  readonly metadataEnv: Readonly<Record<string, string>>;
  /** Writes a service-account key file for the emulator's account at `path`. */
  writeKeyFile(path: string): Promise<void>;
  /** Adds a version (the new latest); returns its number. */
  addVersion(secretId: string, data: string | Uint8Array): number;
  setState(secretId: string, version: number, state: VersionState): void;
  /** Calls on this secret get PERMISSION_DENIED, as an identity without secretAccessor would. */
  deny(secretId: string): void;
  /** The next `count` API calls get RESOURCE_EXHAUSTED, as a project over its quota does. */
  throttle(count: number): void;
  /** While on, API calls get no answer at all (a hung connection), until their deadline. */
  stall(on: boolean): void;
  /** Calls counted, all of them or (for the two RPCs) those on one secret. */
  calls(counter: EmulatorCounter, secretId?: string): number;
  /** Every access token and key the emulator handed out, so tests can look for them in output. */
  readonly credentials: readonly string[];
  stop(): Promise<void>;
}

interface Version {
  readonly number: number;
  readonly data: Buffer;
  state: VersionState;
  readonly created: number;
}

const AUDIENCE = 'https://secretmanager.googleapis.com/';
const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';
const require = createRequire(import.meta.url);
const PROTOS = join(dirname(require.resolve('@google-cloud/secret-manager/package.json')), 'build', 'protos');

export async function startGcpSecretManagerEmulator(options: { project?: string } = {}): Promise<GcpSecretManagerEmulator> {
  const project = options.project ?? `sidecar-${randomBytes(3).toString('hex')}`;
  const projectNumber = String(100_000_000_000 + (randomBytes(4).readUInt32BE() % 800_000_000_000));
  const dir = await mkdtemp(join(tmpdir(), 'gcp-sm-'));
  const certs = await makeCertificates(dir, [['server', 'subjectAltName=DNS:localhost']]);
  const account = {
    email: `sidecar@${project}.iam.gserviceaccount.com`,
    keyId: randomBytes(20).toString('hex'),
    ...generateKeyPairSync('rsa', { modulusLength: 2048 }),
  };
  const secrets = new Map<string, Version[]>();
  const denied = new Set<string>();
  const tokens = new Set<string>();
  const credentials: string[] = [];
  const counts = new Map<string, number>();
  let stalled = false;
  let throttled = 0;
  const count = (counter: string) => counts.set(counter, (counts.get(counter) ?? 0) + 1);
  const secretOf = (name: string) => /\/secrets\/([^/]+)\//.exec(name)?.[1] ?? '';

  // ---- the metadata server (http://GCE_METADATA_HOST/computeMetadata/v1/…)
  const metadata = createServer((req, res) => void drain(req).then(() => serveMetadata(req, res)));
  function serveMetadata(req: IncomingMessage, res: ServerResponse): void {
    res.setHeader('Metadata-Flavor', 'Google');
    // The real server refuses requests without the header, and any that came through a proxy.
    if (req.headers['metadata-flavor'] !== 'Google' || req.headers['x-forwarded-for'] !== undefined)
      return void res.writeHead(403).end('Missing Metadata-Flavor:Google header.');
    const path = new URL(req.url ?? '/', 'http://metadata').pathname;
    if (path === '/computeMetadata/v1/instance/service-accounts/default/token') {
      count('metadata token');
      const token = `ya29.emulator-${randomBytes(24).toString('hex')}`;
      tokens.add(token);
      credentials.push(token);
      return void res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ access_token: token, expires_in: 3599, token_type: 'Bearer' }));
    }
    const text: Record<string, string> = {
      '/computeMetadata/v1/instance': '',
      '/computeMetadata/v1/project/project-id': project,
      '/computeMetadata/v1/project/numeric-project-id': projectNumber,
      '/computeMetadata/v1/universe/universe-domain': 'googleapis.com',
      '/computeMetadata/v1/instance/service-accounts/default/email': account.email,
    };
    const body = text[path];
    if (body === undefined) return void res.writeHead(404, { 'content-type': 'text/html' }).end('Not Found');
    res.writeHead(200, { 'content-type': 'application/text' }).end(body);
  }

  // ---- authentication of each call
  function authenticated(call: grpc.ServerUnaryCall<unknown, unknown>): boolean {
    const header = String(call.metadata.get('authorization')[0] ?? '');
    const token = header.startsWith('Bearer ') ? header.slice(7) : '';
    if (tokens.has(token)) return true;
    if (validSelfSignedJwt(token, account.email, account.keyId, account.publicKey)) {
      count('jwt');
      return true;
    }
    count('unauthenticated');
    return false;
  }

  // ---- the API
  function versionFor(name: string): { status: grpc.status; message: string } | { version: Version; secretId: string } {
    const match = /^projects\/([^/]+)\/secrets\/([^/]+)\/versions\/([^/]+)$/.exec(name);
    if (!match) return { status: grpc.status.INVALID_ARGUMENT, message: `Invalid resource field value in the request: ${name}` };
    const [, projectPart = '', secretId = '', wanted = ''] = match;
    if ((projectPart !== project && projectPart !== projectNumber) || denied.has(secretId)) {
      return {
        status: grpc.status.PERMISSION_DENIED,
        message: `Permission 'secretmanager.versions.access' denied for resource '${name}' (or it may not exist).`,
      };
    }
    const versions = secrets.get(secretId);
    const version = wanted === 'latest' ? versions?.at(-1) : versions?.find((v) => String(v.number) === wanted);
    if (!versions || versions.length === 0)
      return { status: grpc.status.NOT_FOUND, message: `Secret [projects/${projectNumber}/secrets/${secretId}] not found or has no versions.` };
    if (!version)
      return { status: grpc.status.NOT_FOUND, message: `Secret Version [projects/${projectNumber}/secrets/${secretId}/versions/${wanted}] not found.` };
    return { version, secretId };
  }
  const fullName = (secretId: string, version: Version) => `projects/${projectNumber}/secrets/${secretId}/versions/${version.number}`;
  const describe = (secretId: string, version: Version) => ({
    name: fullName(secretId, version),
    createTime: { seconds: String(Math.floor(version.created / 1000)), nanos: 0 },
    state: version.state,
    etag: `"${version.number}-${version.state}"`,
    clientSpecifiedPayloadChecksum: true,
  });

  type Failure = { code: grpc.status; details: string };
  /** One RPC on a version: counted, authenticated, the version found, then `answer` gives the response or a status. */
  const unary =
    (
      method: 'GetSecretVersion' | 'AccessSecretVersion',
      answer: (secretId: string, version: Version) => Failure | object,
    ): grpc.handleUnaryCall<{ name: string }, unknown> =>
    (call, callback) => {
      count(method);
      count(`${method} ${secretOf(call.request.name)}`);
      if (stalled) return;
      if (!authenticated(call)) return callback({ code: grpc.status.UNAUTHENTICATED, details: 'Request had invalid authentication credentials.' });
      if (throttled > 0) {
        throttled -= 1;
        return callback({
          code: grpc.status.RESOURCE_EXHAUSTED,
          details: `Quota exceeded for quota metric 'Access requests' and limit 'Access requests per minute' of service 'secretmanager.googleapis.com' for consumer 'project_number:${projectNumber}'.`,
        });
      }
      const found = versionFor(call.request.name);
      if ('status' in found) return callback({ code: found.status, details: found.message });
      const result = answer(found.secretId, found.version);
      if ('code' in result) callback(result);
      else callback(null, result);
    };
  const getSecretVersion = unary('GetSecretVersion', describe);
  const accessSecretVersion = unary('AccessSecretVersion', (secretId, version) =>
    version.state === 'ENABLED'
      ? { name: fullName(secretId, version), payload: { data: version.data, dataCrc32c: String(crc32c(version.data)) } }
      : { code: grpc.status.FAILED_PRECONDITION, details: `Secret Version [${fullName(secretId, version)}] is in ${version.state} state.` },
  );

  const loaded = new GrpcClient().loadProto(PROTOS, 'google/cloud/secretmanager/v1/service.proto') as unknown as {
    google: { cloud: { secretmanager: { v1: { SecretManagerService: { service: grpc.ServiceDefinition } } } } };
  };
  const api = new grpc.Server();
  api.addService(loaded.google.cloud.secretmanager.v1.SecretManagerService.service, { getSecretVersion, accessSecretVersion });
  const apiPort = await new Promise<number>((resolve, reject) =>
    api.bindAsync(
      '127.0.0.1:0',
      grpc.ServerCredentials.createSsl(null, [{ cert_chain: readFileSync(certs.cert('server').cert), private_key: readFileSync(certs.cert('server').key) }]),
      (error, port) => (error ? reject(error) : resolve(port)),
    ),
  );
  const metadataPort = await new Promise<number>((resolve) => metadata.listen(0, '127.0.0.1', () => resolve((metadata.address() as AddressInfo).port)));

  return {
    endpoint: `localhost:${apiPort}`,
    project,
    caCert: certs.caCert,
    metadataEnv: { GCE_METADATA_HOST: `127.0.0.1:${metadataPort}` },
    async writeKeyFile(path) {
      const privateKey = account.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      credentials.push(privateKey.split('\n')[1] ?? privateKey);
      await writeFile(
        path,
        JSON.stringify({
          type: 'service_account',
          project_id: project,
          private_key_id: account.keyId,
          private_key: privateKey,
          client_email: account.email,
          client_id: projectNumber,
          auth_uri: 'https://accounts.google.com/o/oauth2/auth',
          // Never asked: the client signs its own JWT for the API (checked above); a refused loopback port if it did.
          token_uri: 'https://127.0.0.1:9/token',
        }),
        { mode: 0o600 },
      );
    },
    addVersion(secretId, data) {
      const versions = secrets.get(secretId) ?? [];
      const version: Version = { number: versions.length + 1, data: Buffer.from(data), state: 'ENABLED', created: Date.now() };
      versions.push(version);
      secrets.set(secretId, versions);
      return version.number;
    },
    setState(secretId, number, state) {
      const version = secrets.get(secretId)?.find((v) => v.number === number);
      if (!version) throw new Error(`no version ${number} of ${secretId}`);
      version.state = state;
    },
    deny: (secretId) => void denied.add(secretId),
    stall: (on) => void (stalled = on),
    throttle: (n) => void (throttled = n),
    calls: (counter, secretId) => counts.get(secretId === undefined ? counter : `${counter} ${secretId}`) ?? 0,
    credentials,
    stop: async () => {
      // Forced: a stalled call would hold a graceful shutdown open.
      api.forceShutdown();
      metadata.closeAllConnections();
      await new Promise<void>((resolve) => metadata.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A self-signed service-account JWT as google-auth-library makes it for a key file: RS256 under the account's
 * key, issued by and for the account, for the API's audience (or the cloud-platform scope), and not expired.
 */
function validSelfSignedJwt(token: string, email: string, keyId: string, publicKey: KeyObject): boolean {
  const [header = '', payload = '', signature = ''] = token.split('.');
  if (!header || !payload || !signature) return false;
  try {
    const head = JSON.parse(Buffer.from(header, 'base64url').toString()) as { alg?: string; kid?: string };
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as { iss?: string; sub?: string; aud?: string; scope?: string; exp?: number };
    const now = Date.now() / 1000;
    const forUs = claims.aud === AUDIENCE || (claims.scope ?? '').split(' ').includes(CLOUD_PLATFORM);
    if (head.alg !== 'RS256' || head.kid !== keyId || claims.iss !== email || claims.sub !== email || !forUs || !(Number(claims.exp) > now)) return false;
    return verify('RSA-SHA256', Buffer.from(`${header}.${payload}`), publicKey, Buffer.from(signature, 'base64url'));
  } catch {
    return false;
  }
}

function drain(req: IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    req.resume();
    req.on('end', () => resolve());
  });
}
