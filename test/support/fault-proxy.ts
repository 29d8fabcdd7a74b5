import { createServer, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * A small fault-injecting HTTP reverse proxy on loopback, in front of a real server (OpenBao, moto, …). Requests
 * pass through untouched unless a fault matches them. Where toxiproxy works on TCP (cut, latency, reset), this one
 * knows HTTP: it can fail the first N requests on one path, answer 429/503 with `Retry-After`, trickle a body a
 * few bytes at a time, stall, or reset the connection, and it counts the requests it saw.
 *
 * ```ts
 * const proxy = await startFaultProxy(bao.address);
 * proxy.failFirst('/v1/auth/token/lookup-self', 3, { status: 503 });
 * proxy.retryAfter('/v1/secret/data/app', { status: 429, seconds: 2, times: 1 });
 * proxy.trickle('/v1/secret/data/big', { bytes: 3_000, everyMs: 1_000 });
 * proxy.stall('/v1/sys/leases/revoke');
 * proxy.reset(/^\/v1\/secret\//, { times: 1 });
 * proxy.count('/v1/secret/data/app'); // requests seen on that path, faulted or not
 * proxy.clear(); // back to a plain pass-through
 * await proxy.stop(); // also drops stalled and trickling connections
 * ```
 *
 * Paths match the request's path without its query string: a string matches exactly, a RegExp is tested.
 * The first fault (in the order added) that matches and has applications left is applied; `times` bounds how
 * many requests a fault applies to (default: every matching request until `clear()` or `remove()`).
 */
export interface FaultProxy {
  /** `http://127.0.0.1:<port>`: give this to the client instead of the upstream's address. */
  readonly address: string;
  readonly port: number;
  /** Adds a fault; returns it, so that `remove` can take it back and `applied` tells how often it fired. */
  inject(fault: FaultSpec): InjectedFault;
  /** Answers the first `n` matching requests with `status` (and `body`, JSON-encoded unless a string), the rest pass. */
  failFirst(path: PathMatch, n: number, answer: { status: number; body?: unknown; headers?: Record<string, string> }): InjectedFault;
  /** Answers 429 or 503 with `Retry-After: <seconds>` (default: every matching request). */
  retryAfter(path: PathMatch, options: { status: 429 | 503; seconds: number; times?: number; method?: string }): InjectedFault;
  /** Passes the request through, then sends the upstream's answer `bytes` at a time every `everyMs`. */
  trickle(path: PathMatch, options: { bytes: number; everyMs: number; times?: number; method?: string; includeHeaders?: boolean }): InjectedFault;
  /** Accepts the request and never answers (the connection stays open until the client gives up or `stop`). */
  stall(path: PathMatch, options?: { times?: number; method?: string }): InjectedFault;
  /** Resets the connection (TCP RST) as soon as the request arrives. */
  reset(path: PathMatch, options?: { times?: number; method?: string }): InjectedFault;
  remove(fault: InjectedFault): void;
  /** Removes every fault. */
  clear(): void;
  /** Requests seen (faulted or passed) on paths matching `path`, or in all if omitted. */
  count(path?: PathMatch, method?: string): number;
  /** Every request seen, in order of arrival. */
  readonly requests: readonly SeenRequest[];
  /** Closes the listener and destroys every open connection (stalled and trickling ones too). */
  stop(): Promise<void>;
}

export type PathMatch = string | RegExp;

export interface SeenRequest {
  readonly method: string;
  /** Without the query string. */
  readonly path: string;
  /** Epoch ms. */
  readonly at: number;
  /** Whether a fault was applied to it. */
  readonly faulted: boolean;
}

export type FaultAction =
  | { readonly kind: 'answer'; readonly status: number; readonly body?: unknown; readonly headers?: Record<string, string> }
  | { readonly kind: 'trickle'; readonly bytes: number; readonly everyMs: number; readonly includeHeaders?: boolean }
  | { readonly kind: 'stall' }
  | { readonly kind: 'reset' };

export interface FaultSpec {
  readonly path: PathMatch;
  /** Only requests with this method (GET, PUT, …); any method if omitted. */
  readonly method?: string;
  /** How many requests it applies to; unbounded if omitted. */
  readonly times?: number;
  readonly action: FaultAction;
}

export interface InjectedFault extends FaultSpec {
  /** How many requests it was applied to so far. */
  readonly applied: number;
}

export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  const target = new URL(upstream);
  let faults: { spec: FaultSpec; applied: number }[] = [];
  const seen: SeenRequest[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const matches = (match: PathMatch, path: string) => (typeof match === 'string' ? match === path : match.test(path));

  const takeFault = (method: string, path: string): FaultAction | undefined => {
    const entry = faults.find(
      ({ spec, applied }) =>
        matches(spec.path, path) && (spec.method === undefined || spec.method.toUpperCase() === method) && (spec.times === undefined || applied < spec.times),
    );
    if (!entry) return undefined;
    entry.applied++;
    return entry.spec.action;
  };

  /** Forwards the request upstream; hands the answer (status, headers, whole body) to `then`. */
  const forward = (req: IncomingMessage, res: ServerResponse, then: (status: number, headers: OutgoingHttpHeaders, body: Buffer) => void) => {
    const headers = { ...req.headers, host: target.host };
    const out = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent: false }, (answer) => {
      const chunks: Buffer[] = [];
      answer.on('data', (chunk: Buffer) => chunks.push(chunk));
      answer.on('end', () => then(answer.statusCode ?? 502, answer.headers, Buffer.concat(chunks)));
      answer.on('error', () => res.destroy());
    });
    out.on('error', () => res.destroy());
    req.pipe(out);
  };

  const send = (res: ServerResponse, status: number, headers: OutgoingHttpHeaders, body: Buffer) => {
    const plain = { ...headers };
    delete plain['transfer-encoding'];
    res.writeHead(status, { ...plain, 'content-length': String(body.length) });
    res.end(body);
  };

  const trickle = (req: IncomingMessage, res: ServerResponse, action: Extract<FaultAction, { kind: 'trickle' }>) => {
    forward(req, res, (status, headers, body) => {
      const plain = { ...headers };
      delete plain['transfer-encoding'];
      delete plain['connection'];
      delete plain['keep-alive'];
      plain['content-length'] = String(body.length);
      let bytes = body;
      let socket: Socket | undefined;
      if (action.includeHeaders) {
        // Write the raw answer ourselves, status line and headers included, and close after it.
        const head = [
          `HTTP/1.1 ${status} ${res.statusMessage || 'OK'}`,
          ...Object.entries(plain).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : String(v)}`),
          'connection: close',
          '',
          '',
        ].join('\r\n');
        bytes = Buffer.concat([Buffer.from(head, 'latin1'), body]);
        socket = res.socket ?? undefined;
      } else {
        res.writeHead(status, { ...plain, connection: 'close' });
        res.flushHeaders();
      }
      let offset = 0;
      const step = () => {
        if (res.destroyed || socket?.destroyed) return;
        const chunk = bytes.subarray(offset, offset + action.bytes);
        offset += chunk.length;
        const last = offset >= bytes.length;
        if (socket) {
          socket.write(chunk);
          if (last) socket.end();
        } else if (last) res.end(chunk);
        else res.write(chunk);
        if (!last) {
          const timer = setTimeout(() => {
            timers.delete(timer);
            step();
          }, action.everyMs);
          timers.add(timer);
        }
      };
      step();
    });
  };

  const server = createServer((req, res) => {
    const method = (req.method ?? 'GET').toUpperCase();
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    const action = takeFault(method, path);
    seen.push({ method, path, at: Date.now(), faulted: action !== undefined });
    if (!action) return forward(req, res, (status, headers, body) => send(res, status, headers, body));
    switch (action.kind) {
      case 'answer': {
        req.resume();
        const body = action.body === undefined ? Buffer.alloc(0) : Buffer.from(typeof action.body === 'string' ? action.body : JSON.stringify(action.body));
        const type = action.body === undefined || typeof action.body === 'string' ? {} : { 'content-type': 'application/json' };
        return send(res, action.status, { ...type, ...action.headers }, body);
      }
      case 'trickle':
        return trickle(req, res, action);
      case 'stall':
        req.resume();
        return; // never answered: `stop` destroys the socket
      case 'reset':
        req.socket.resetAndDestroy();
        return;
    }
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as { port: number };

  const handles = new Map<InjectedFault, { spec: FaultSpec; applied: number }>();
  const inject = (spec: FaultSpec): InjectedFault => {
    const entry = { spec, applied: 0 };
    faults.push(entry);
    const handle: InjectedFault = Object.freeze({
      ...spec,
      get applied() {
        return entry.applied;
      },
    });
    handles.set(handle, entry);
    return handle;
  };
  const opt = (options: { times?: number | undefined; method?: string | undefined } | undefined) => ({
    ...(options?.times === undefined ? {} : { times: options.times }),
    ...(options?.method === undefined ? {} : { method: options.method }),
  });

  return {
    address: `http://127.0.0.1:${port}`,
    port,
    requests: seen,
    inject,
    failFirst: (path, n, answer) => inject({ path, times: n, action: { kind: 'answer', ...answer } }),
    retryAfter: (path, options) =>
      inject({
        path,
        ...opt(options),
        action: {
          kind: 'answer',
          status: options.status,
          headers: { 'retry-after': String(options.seconds) },
          body: { errors: [options.status === 429 ? 'rate limited' : 'service unavailable'] },
        },
      }),
    trickle: (path, options) =>
      inject({
        path,
        ...opt(options),
        action: { kind: 'trickle', bytes: options.bytes, everyMs: options.everyMs, ...(options.includeHeaders ? { includeHeaders: true } : {}) },
      }),
    stall: (path, options) => inject({ path, ...opt(options), action: { kind: 'stall' } }),
    reset: (path, options) => inject({ path, ...opt(options), action: { kind: 'reset' } }),
    remove: (fault) => {
      const entry = handles.get(fault);
      faults = faults.filter((f) => f !== entry);
    },
    clear: () => {
      faults = [];
    },
    count: (path, method) =>
      seen.filter((r) => (path === undefined || matches(path, r.path)) && (method === undefined || r.method === method.toUpperCase())).length,
    stop: async () => {
      for (const timer of timers) clearTimeout(timer);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
