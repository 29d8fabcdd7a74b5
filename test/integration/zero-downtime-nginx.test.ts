import { X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Daemon, runCli, type LogRecord } from '../support/cli.js';
import { makeTmpfsDir, removeDir } from '../support/dirs.js';
import { adaptExample } from '../support/example.js';
import { expectNoSecrets } from '../support/leaks.js';
import { startNginx, type Nginx } from '../support/nginx.js';
import { freePort, startOpenBao, type OpenBao } from '../support/openbao.js';
import { runWrk } from '../support/wrk.js';

const ROTATIONS = 20;
let bao: OpenBao;
let caPem: string;
let dir: string;
let nginx: Nginx | undefined;
let daemon: Daemon | undefined;

beforeAll(async () => {
  bao = await startOpenBao();
  await bao.api('POST', 'sys/mounts/pki', { type: 'pki', config: { max_lease_ttl: '87600h' } });
  caPem = ((await bao.api('POST', 'pki/root/generate/internal', { common_name: 'zero-downtime test CA', ttl: '87600h' }))?.['data'] as { certificate: string })
    .certificate;
  await bao.api('POST', 'pki/roles/web', { allowed_domains: 'localhost', allow_bare_domains: true, allow_ip_sans: true, max_ttl: '1h' });
  await bao.api('PUT', 'sys/policies/acl/nginx-tls', { policy: 'path "pki/issue/web" {\n  capabilities = ["create", "update"]\n}\n' });
  await bao.api('POST', 'sys/auth/approle', { type: 'approle' });
  await bao.api('POST', 'auth/approle/role/nginx-tls', { token_policies: ['nginx-tls'], token_ttl: '1h', token_max_ttl: '24h' });
  dir = await makeTmpfsDir('nginx-tls-');
});
afterAll(async () => {
  await daemon?.stop();
  await nginx?.stop();
  await bao?.stop();
  await removeDir(dir);
});

/** Serial numbers as OpenBao lists them (aa-bb-…) and as Node reports them (AABB…) compare equal this way. */
const normalSerial = (serial: string) => serial.replaceAll(/[-:]/g, '').toLowerCase().replace(/^0+/, '');

/** TLS handshakes, one after another, each verified against the PKI's CA, until stopped. */
function observeHandshakes(port: number) {
  const seen = new Set<string>();
  const failures: string[] = [];
  let handshakes = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      await new Promise<void>((resolve) => {
        const socket = connect({ host: '127.0.0.1', port, ca: caPem, servername: 'localhost' }, () => {
          seen.add(normalSerial(socket.getPeerCertificate().serialNumber));
          handshakes++;
          socket.destroy();
          resolve();
        });
        socket.once('error', (error: Error) => {
          failures.push(error.message);
          resolve();
        });
      });
    }
  })();
  return {
    seen,
    failures,
    get handshakes() {
      return handshakes;
    },
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

describe('examples/nginx-tls: nginx serves HTTPS through certificate rotations without a failed request', () => {
  it(`rotates the certificate ${ROTATIONS} times under wrk load with zero failed requests and zero TLS errors`, { timeout: 180_000 }, async () => {
    const roleId = ((await bao.api('GET', 'auth/approle/role/nginx-tls/role-id'))?.['data'] as { role_id: string }).role_id;
    const secretId = ((await bao.api('POST', 'auth/approle/role/nginx-tls/secret-id'))?.['data'] as { secret_id: string }).secret_id;
    await writeFile(join(dir, 'role_id'), roleId);
    await writeFile(join(dir, 'secret_id'), secretId);
    const run = join(dir, 'run');
    const port = await freePort();
    // The example as shipped, with this machine's server, paths and port, and a certificate that lives 4 s
    // instead of 24 h: re-issued every 2 s, 2 s before it expires (the margin: time for OpenBao to issue under
    // this load, and for nginx to reload), where the example gives a 24 h certificate 8 h and at least 30 s.
    const sidecarConfig = await adaptExample('nginx-tls/sidecar.hcl', [
      ['http://openbao:8200', bao.address],
      ['/etc/secrets-sidecar/role_id', join(dir, 'role_id')],
      ['/run/secrets/secret_id', join(dir, 'secret_id')],
      ['/run/secrets-sidecar-cache', join(dir, 'sidecar-cache')],
      ['/run/nginx-tls', run],
      ['ttl=\\"24h\\"', 'ttl=\\"4s\\"'],
      ['rotation_margin = "30s"', 'rotation_margin = "2s"'],
    ]);
    await writeFile(join(dir, 'sidecar.hcl'), sidecarConfig);
    const nginxConfig = await adaptExample('nginx-tls/nginx.conf', [
      ['/run/nginx-tls', run],
      ['listen 8443 ssl', `listen 127.0.0.1:${port} ssl`],
    ]);

    // As in the compose file: `once` writes the first certificate, nginx starts with it, `run` keeps it fresh.
    const init = await runCli(['once', '-c', join(dir, 'sidecar.hcl')]);
    expect(init.code, init.stderr).toBe(0);
    nginx = await startNginx(join(dir, 'nginx'), nginxConfig, port);
    daemon = new Daemon(['-c', join(dir, 'sidecar.hcl')]);
    await daemon.waitFor((r) => r.msg === 'all templates rendered');

    const observer = observeHandshakes(port);
    const certWritten = (r: LogRecord) => r.msg === 'rendered' && r['outcome'] === 'written' && String(r['destination']).endsWith('cert.pem');
    const rotated = (async () => {
      let from = daemon.mark;
      for (let i = 0; i < ROTATIONS; i++) {
        const record = await daemon.waitFor(certWritten, from);
        from = daemon.records.indexOf(record) + 1;
      }
    })();
    // A connection per request. On any reload, nginx's old workers close their idle keep-alive connections, and
    // a request wrk has just sent on one fails: wrk never retries, where HTTP clients retry an idempotent request
    // on a closed keep-alive connection. With a handshake per request, every request also sees the certificate
    // being served at that moment.
    const load = await runWrk(`https://127.0.0.1:${port}/`, { threads: 2, connections: 8, maxSeconds: 120, stop: rotated, headers: ['Connection: close'] });
    await rotated;
    await observer.stop();
    const keyPem = await readFile(join(run, 'key.pem'), 'utf8');
    const served = new X509Certificate(await readFile(join(run, 'cert.pem')));
    await daemon.stop();

    const issued = new Set(((await bao.api('LIST', 'pki/certs'))?.['data'] as { keys: string[] }).keys.map(normalSerial));
    console.log(
      `nginx-tls: ${ROTATIONS} rotations, ${issued.size} certificates issued, ${observer.seen.size} served to ${observer.handshakes} verified handshakes; wrk ${load.requests} requests, socket errors ${JSON.stringify(load.socketErrors)}, non-2xx ${load.non2xx}, handshake failures ${observer.failures.length}`,
    );
    expect(load.requests).toBeGreaterThan(0);
    expect(load.socketErrors).toEqual({ connect: 0, read: 0, write: 0, timeout: 0 });
    expect(load.non2xx).toBe(0);
    expect(observer.failures).toEqual([]);
    // Every certificate nginx served is one OpenBao issued, and each rotation reached the clients.
    expect([...observer.seen].filter((serial) => !issued.has(serial))).toEqual([]);
    expect(observer.seen.size).toBeGreaterThanOrEqual(ROTATIONS);
    // The two files come from one issuance: the key is the certificate's.
    expect(served.checkPrivateKey((await import('node:crypto')).createPrivateKey(keyPem))).toBe(true);
    expectNoSecrets(daemon.stderr + init.stderr, [secretId, keyPem.split('\n')[1] ?? '']);
  });
});
