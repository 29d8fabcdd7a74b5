// Starts an OpenBao dev server (installed by test/infra/install-test-tools.sh) on a free loopback port with a
// file audit device, for benchmarks that count requests.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BAO = new URL('../../.cache/bin/bao', import.meta.url).pathname;

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export async function startOpenBao() {
  if (!existsSync(BAO)) throw new Error(`OpenBao is not installed at ${BAO}: run bash test/infra/install-test-tools.sh`);
  const dir = mkdtempSync(join(tmpdir(), 'bench-bao-'));
  const auditLog = join(dir, 'audit.log');
  writeFileSync(join(dir, 'config.hcl'), `audit "file" "bench" {\n  options {\n    file_path = "${auditLog}"\n  }\n}\n`);
  const rootToken = `root-${randomBytes(12).toString('hex')}`;
  const port = await freePort();
  const address = `http://127.0.0.1:${port}`;
  const child = spawn(
    BAO,
    ['server', '-dev', `-dev-root-token-id=${rootToken}`, `-dev-listen-address=127.0.0.1:${port}`, '-dev-no-store-token', `-config=${join(dir, 'config.hcl')}`],
    { stdio: 'ignore' },
  );
  for (let i = 0; ; i++) {
    if (
      await fetch(`${address}/v1/sys/health`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    if (i > 200) throw new Error('OpenBao did not start');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const api = async (method, path, body) => {
    const request = () =>
      fetch(`${address}/v1/${path}`, {
        method,
        headers: { 'X-Vault-Token': rootToken },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    // After a 300-second run the pooled connection may have been closed by the server: one more try, on a new one.
    const response = await request().catch(request);
    if (!response.ok && response.status !== 204) throw new Error(`${method} ${path}: ${response.status}`);
  };
  const auditCount = () =>
    readFileSync(auditLog, 'utf8')
      .split('\n')
      .filter((l) => l.includes('"type":"response"')).length;
  /** The request paths of the audit log's responses, from entry `from` on. */
  const auditPaths = (from = 0) =>
    readFileSync(auditLog, 'utf8')
      .split('\n')
      .filter((l) => l.includes('"type":"response"'))
      .slice(from)
      .map((l) => JSON.parse(l).request.path);
  const stop = () => {
    child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  };
  return { address, rootToken, api, auditCount, auditPaths, stop };
}
