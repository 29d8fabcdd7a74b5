import { createServer, request, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';

let upstream: Server;
let proxy: FaultProxy;
const BODY = 'x'.repeat(40);

beforeAll(async () => {
  upstream = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(BODY);
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  proxy = await startFaultProxy(`http://127.0.0.1:${(upstream.address() as { port: number }).port}`);
});
afterAll(async () => {
  await proxy?.stop();
  await new Promise((resolve) => upstream?.close(resolve));
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  chunks: number;
}

function call(path: string, timeoutMs = 5_000): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(`${proxy.address}${path}`, { agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      let chunks = 0;
      res.on('data', (chunk: Buffer) => {
        chunks++;
        body += chunk.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, chunks }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end();
  });
}

describe('fault proxy', () => {
  it('passes requests through and counts them per path', async () => {
    proxy.clear();
    const before = proxy.count('/plain');
    expect((await call('/plain?x=1')).body).toBe(BODY);
    expect(proxy.count('/plain')).toBe(before + 1);
  });

  it('fails the first N requests on one path, then passes', async () => {
    proxy.clear();
    const fault = proxy.failFirst('/flaky', 2, { status: 503, body: { errors: ['down'] } });
    const statuses = [(await call('/flaky')).status, (await call('/flaky')).status, (await call('/flaky')).status, (await call('/other')).status];
    expect(statuses).toEqual([503, 503, 200, 200]);
    expect(fault.applied).toBe(2);
  });

  it('answers 429 with Retry-After', async () => {
    proxy.clear();
    proxy.retryAfter(/^\/limited/, { status: 429, seconds: 3, times: 1 });
    const answer = await call('/limited/a');
    expect(answer.status).toBe(429);
    expect(answer.headers['retry-after']).toBe('3');
    expect((await call('/limited/a')).status).toBe(200);
  });

  it('trickles a body a few bytes at a time', async () => {
    proxy.clear();
    proxy.trickle('/slow', { bytes: 10, everyMs: 20 });
    const answer = await call('/slow');
    expect(answer.body).toBe(BODY);
    expect(answer.chunks).toBeGreaterThanOrEqual(4);
  });

  it('trickles the status line and headers too when asked', async () => {
    proxy.clear();
    proxy.trickle('/slow-head', { bytes: 16, everyMs: 5, includeHeaders: true });
    const answer = await call('/slow-head');
    expect(answer.status).toBe(200);
    expect(answer.body).toBe(BODY);
  });

  it('stalls: the client meets its own timeout', async () => {
    proxy.clear();
    proxy.stall('/stuck', { times: 1 });
    await expect(call('/stuck', 200)).rejects.toMatchObject({ code: 'ETIMEDOUT' });
  });

  it('resets the connection', async () => {
    proxy.clear();
    proxy.reset('/reset', { times: 1 });
    await expect(call('/reset')).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect((await call('/reset')).status).toBe(200);
  });

  it('removes one fault and keeps the others', async () => {
    proxy.clear();
    const a = proxy.failFirst('/a', 10, { status: 500 });
    proxy.failFirst('/b', 10, { status: 502 });
    proxy.remove(a);
    expect((await call('/a')).status).toBe(200);
    expect((await call('/b')).status).toBe(502);
  });
});
