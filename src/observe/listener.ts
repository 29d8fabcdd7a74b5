import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SidecarError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { SidecarMetrics } from './metrics.js';
import type { Readiness } from './readiness.js';

export interface ListenerOptions {
  readonly host: string;
  readonly port: number;
  readonly metrics: SidecarMetrics;
  readonly readiness: Readiness;
  /** The token POST /v1/refresh and POST /v1/shutdown need; undefined: both are off (SIGUSR1 and SIGTERM still work). */
  readonly refreshToken: string | undefined;
  /** Re-fetches one reference, or all; resolves with the references refreshed (none: unknown reference). */
  readonly refresh: (ref: string | undefined) => string[];
  /** Asks the sidecar to stop as on SIGTERM (exit 0, leases revoked if configured). */
  readonly shutdown: () => void;
  /** The references templates use now. */
  readonly inUse: () => ReadonlySet<string>;
  readonly logger: Logger;
}

export interface Listener {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * The operator's endpoints: GET /healthz (the process answers), GET /readyz (every template rendered, nothing
 * failing past the grace), GET /metrics (Prometheus text), POST /v1/refresh (forced refresh) and POST /v1/shutdown
 * (a graceful exit, for a Job's main container to end its sidecar), both behind a token and refused through a proxy. Off unless a listener block asks for it; it should stay on loopback or a pod IP.
 */
export async function startListener(options: ListenerOptions): Promise<Listener> {
  const server: Server = createServer((req, res) => {
    void handle(req, res, options).catch((error: unknown) => {
      options.logger.error({ error: { message: (error as Error).message } }, 'listener request failed');
      if (!res.headersSent) send(res, 500, { error: 'internal error' });
    });
  });
  // Probes and scrapes are short: never let an idle connection pin the process.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        new SidecarError('SIDECAR_ERR_CONFIG_INVALID', `listener: cannot listen on ${options.host}:${options.port} (${error.code ?? error.message})`, {
          hint: "another process holds the port, or the address is not this host's",
        }),
      );
    });
    server.listen(options.port, options.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  options.logger.info({ address: `${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}` }, 'listening');
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, options: ListenerOptions): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://listener');
  const route = `${req.method ?? 'GET'} ${url.pathname}`;
  if (route === 'GET /healthz') return send(res, 200, { status: 'ok' });
  if (route === 'GET /readyz') {
    const state = options.readiness.state(options.inUse());
    options.metrics.setReady(state.ready);
    return send(res, state.ready ? 200 : 503, state);
  }
  if (route === 'GET /metrics') {
    const inUse = options.inUse();
    options.metrics.retain(inUse);
    options.metrics.setReady(options.readiness.state(inUse).ready);
    const text = await options.metrics.text();
    res.writeHead(200, { 'content-type': options.metrics.registry.contentType }).end(text);
    return;
  }
  if (route === 'POST /v1/shutdown') {
    if (!authorised(req, res, options, 'shutdown')) return;
    options.logger.info('shutdown requested over HTTP');
    // Stopping closes the listener: the answer is out before it does.
    res.on('finish', () => options.shutdown());
    return send(res, 202, { status: 'shutting down' });
  }
  if (route === 'POST /v1/refresh') {
    if (!authorised(req, res, options, 'refresh')) return;
    const ref = url.searchParams.get('ref') ?? undefined;
    // `ref` is matched against the labels the sidecar shows (never the real text); what a caller sent that
    // matches none is neither logged nor echoed: it could be a guess at a value.
    const refreshed = options.refresh(ref);
    options.logger.info({ ref: ref === undefined ? 'all' : refreshed.length > 0 ? ref : 'unknown', refreshed: refreshed.length }, 'forced refresh');
    if (ref !== undefined && refreshed.length === 0)
      return send(res, 404, { error: 'no secret in use has that label (labels are as /metrics and the audit records show them)' });
    return send(res, 202, { refreshed });
  }
  return send(res, 404, { error: `no route ${route}` });
}

/** The refresh token's check, shared by the endpoints that act: answers and returns false when the request may not. */
function authorised(req: IncomingMessage, res: ServerResponse, options: ListenerOptions, what: 'refresh' | 'shutdown'): boolean {
  req.resume();
  // The endpoints are for the pod's own containers and operators; a request relayed by a proxy is not one of theirs.
  if (req.headers['x-forwarded-for'] !== undefined) {
    send(res, 403, { error: `${what} is not accepted through a proxy (X-Forwarded-For)` });
    return false;
  }
  if (options.refreshToken === undefined) {
    send(res, 403, {
      error: `${what === 'refresh' ? 'forced refresh' : 'shutdown'} over HTTP is off: set refresh_token_file or refresh_token_env in the listener block`,
    });
    return false;
  }
  if (!tokenMatches(req.headers.authorization, options.refreshToken)) {
    res.setHeader('WWW-Authenticate', 'Bearer');
    send(res, 401, { error: 'a valid token is required: Authorization: Bearer <token>' });
    return false;
  }
  return true;
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header?.startsWith('Bearer ') ? header.slice(7) : '');
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(`${JSON.stringify(body)}\n`);
}
