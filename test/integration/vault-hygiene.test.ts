import { createServer } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { VaultHttp } from '../../src/backends/vault/vault-http.js';
import { vaultError } from '../../src/backends/vault/vault-errors.js';
import { runCli } from '../support/cli.js';
import { removeDir } from '../support/dirs.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { expectNoSecrets } from '../support/leaks.js';
import { startOpenBao, type OpenBao } from '../support/openbao.js';
import { makeProject, type Project } from '../support/project.js';

// Class 8 of issue 22, the Vault items: input hygiene and what errors say.

let bao: OpenBao;
let proxy: FaultProxy;
let project: Project | undefined;

beforeAll(async () => {
  bao = await startOpenBao();
  proxy = await startFaultProxy(bao.address);
  await bao.api('POST', 'secret/data/hygiene', { data: { pw: 'hygiene-pw-7e7e' } });
  await bao.api('POST', 'sys/auth/approle', { type: 'approle' });
  await bao.api('POST', 'auth/approle/role/hygiene', { token_policies: ['default'] });
});
afterAll(async () => {
  await proxy?.stop();
  await bao?.stop();
});
afterEach(async () => {
  proxy.clear();
  await removeDir(project?.root);
  project = undefined;
});

function config(auth = '', backoff = '100ms', maxBackoff = '5s'): string {
  return `
backend "vault" "main" {
  address = "${proxy.address}"
  ${auth}
}
retry {
  backoff     = "${backoff}"
  max_backoff = "${maxBackoff}"
}
template {
  contents    = "{{secret \\"main:secret/hygiene#pw\\"}}"
  destination = "@OUT@/pw"
}
`;
}

const once = async (env: Record<string, string>) => runCli(['once', '-c', project?.config ?? '', '--timeout', '10s'], { env });

describe('vault input hygiene and error classes (fault proxy in front of OpenBao)', () => {
  it('uses a VAULT_TOKEN that ends in a newline, as token_file already did', async () => {
    project = await makeProject({ config: config() });
    const result = await once({ VAULT_TOKEN: `${bao.rootToken}\n` });
    expect(result.code, result.stderr).toBe(0);
    expectNoSecrets(result.stderr + result.stdout, ['hygiene-pw-7e7e', bao.rootToken]);
  });

  it('says "connection reset by the server" for a reset, and retries it', async () => {
    proxy.reset('/v1/secret/data/hygiene', { times: 1 });
    project = await makeProject({ config: config() });
    const result = await once({ VAULT_TOKEN: bao.rootToken });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('"message":"backend \\"main\\": secret/hygiene: connection reset by the server (ECONNRESET)"');
    expectNoSecrets(result.stderr + result.stdout, ['hygiene-pw-7e7e', bao.rootToken]);
  });

  it('codes a wrong AppRole secret_id as denied, fails at once with exit 3, and does not retry the login', async () => {
    const roleId = ((await bao.api('GET', 'auth/approle/role/hygiene/role-id'))?.['data'] as { role_id: string }).role_id;
    project = await makeProject({ config: config(`auth "approle" {\n    role_id        = "${roleId}"\n    secret_id_file = "@ROOT@/secret_id"\n  }`) });
    await project.write('secret_id', 'not-the-secret-id-0000');
    const started = Date.now();
    const result = await once({});
    expect(result.code, result.stderr).toBe(3);
    expect(result.stderr).toContain('"code":"SIDECAR_ERR_BACKEND_DENIED"');
    expect(result.stderr).not.toContain('SIDECAR_ERR_BACKEND_MALFORMED');
    expect(proxy.count('/v1/auth/approle/login')).toBe(1);
    expect(Date.now() - started).toBeLessThan(5_000);
    expectNoSecrets(result.stderr + result.stdout, ['not-the-secret-id-0000']);
  });

  for (const status of [429, 503] as const) {
    it(`waits as long as Retry-After asks on a ${status} (within max_backoff), not the 100 ms backoff`, async () => {
      proxy.retryAfter('/v1/secret/data/hygiene', { status, seconds: 2, times: 1 });
      project = await makeProject({ config: config() });
      const result = await once({ VAULT_TOKEN: bao.rootToken });
      expect(result.code, result.stderr).toBe(0);
      const [first, second] = proxy.requests.filter((r) => r.path === '/v1/secret/data/hygiene').slice(-2);
      const waited = (second?.at ?? 0) - (first?.at ?? 0);
      console.log(`${status} with Retry-After: 2 and backoff 100ms: retried after ${waited} ms`);
      expect(waited).toBeGreaterThanOrEqual(2_000);
      expect(waited).toBeLessThan(4_000);
    });
  }

  it('caps a Retry-After longer than max_backoff at max_backoff', async () => {
    proxy.retryAfter('/v1/secret/data/hygiene', { status: 429, seconds: 3_600, times: 1 });
    project = await makeProject({ config: config('', '100ms', '1s') });
    const result = await once({ VAULT_TOKEN: bao.rootToken });
    expect(result.code, result.stderr).toBe(0);
    const [first, second] = proxy.requests.filter((r) => r.path === '/v1/secret/data/hygiene').slice(-2);
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeLessThan(2_000);
  });

  it('quotes at most a few hundred characters of an error answer, however long (one log line per retry)', async () => {
    proxy.failFirst('/v1/secret/data/hygiene', 1, { status: 500, body: { errors: ['e'.repeat(2_000_000), 'more'] } });
    project = await makeProject({ config: config() });
    const result = await once({ VAULT_TOKEN: bao.rootToken });
    expect(result.code, result.stderr.slice(-1500)).toBe(0);
    const retried = result.stderr.split('\n').find((line) => line.includes('fetch failed, retrying with backoff')) ?? '';
    expect(retried).toContain('eeee');
    expect(retried.length).toBeLessThan(2_000);
  });

  it('says an answer is not valid HTTP (bad chunking, bytes past Content-Length), not a bare parser code', async () => {
    const answers = ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nxx\r\n', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}GARBAGE'];
    let answer = '';
    const server = createTcpServer((socket) => socket.on('data', () => socket.write(answer)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const http = new VaultHttp({
      address: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
      namespace: '',
      maxConnections: 1,
      timeoutMs: 5_000,
      tls: { rejectUnauthorized: true },
    });
    try {
      for (answer of answers) {
        const error = await http.request('GET', 'secret/data/x', 't').then(
          () => undefined,
          (e: unknown) => vaultError(e, 'x'),
        );
        expect(error?.message).toMatch(/^x: the answer is not valid HTTP: a proxy, or a server that is not what the config says\? \(HPE_[A-Z_]+\)$/);
      }
    } finally {
      http.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('refuses an answer larger than 32 MiB instead of filling the memory', async () => {
    const server = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      let sent = 0;
      const more = () => {
        while (sent < 40 && res.write(chunk)) sent++;
        if (sent < 40) res.once('drain', more);
        else res.end();
      };
      more();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const http = new VaultHttp({
      address: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
      namespace: '',
      maxConnections: 1,
      timeoutMs: 10_000,
      tls: { rejectUnauthorized: true },
    });
    try {
      const error = await http.request('GET', 'secret/data/huge', 't').then(
        () => undefined,
        (e: unknown) => vaultError(e, 'x'),
      );
      expect(error).toMatchObject({ code: 'SIDECAR_ERR_BACKEND_MALFORMED', message: 'x: the answer is larger than 32 MiB' });
    } finally {
      http.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
