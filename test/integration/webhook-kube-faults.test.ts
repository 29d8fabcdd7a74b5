import { createServer, type Server } from 'node:https';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerReview, FactsCache } from '../../src/webhook/admission-review.js';
import { createKubeClient } from '../../src/webhook/kube-client.js';
import { parseWebhookConfig } from '../../src/webhook/webhook-config.js';
import { makeDiskDir, removeDir } from '../support/dirs.js';
import { makeServingCertificate } from '../support/webhook.js';

/*
 * The webhook's reads of the API server against servers that misbehave on loopback: one that never answers, one
 * that never stops answering. Either way the admission fails fast as HTTP 500 (failurePolicy decides), coded.
 */

let dir: string;
let tls: { cert: string; key: string };
const servers: Server[] = [];

async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const review = JSON.stringify({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: {
    uid: 'u',
    kind: { group: '', version: 'v1', kind: 'Pod' },
    operation: 'CREATE',
    namespace: 'apps',
    object: {
      metadata: { name: 'p', annotations: { 'secrets-sidecar.io/inject': 'true', 'secrets-sidecar.io/config': 'cm' } },
      spec: { containers: [{ name: 'app' }] },
    },
  },
});

async function admit(server: string, tokenFile = join(dir, 'token'), apiTimeout = '300ms') {
  const config = await parseWebhookConfig(
    `webhook {\n  address = "127.0.0.1:0"\n  tls_cert_file = "c"\n  tls_key_file = "k"\n  image = "r/s:1"\n  api_timeout = "${apiTimeout}"\n}\n`,
    join(dir, 'webhook.hcl'),
  );
  const kube = await createKubeClient({ server, caFile: tls.cert, tokenFile }, {}, config.apiTimeoutMs);
  try {
    const started = performance.now();
    const answer = await answerReview(review, { config, ownNamespace: 'ops', kube }, new FactsCache());
    return { answer, ms: performance.now() - started };
  } finally {
    kube.close();
  }
}

beforeAll(async () => {
  dir = await makeDiskDir('webhook-kube-');
  tls = makeServingCertificate(dir, 'api');
  await writeFile(join(dir, 'token'), 'token-value\n');
});

afterAll(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  await removeDir(dir);
});

describe('the webhook against a misbehaving API server', () => {
  it('gives up on one that never answers after api_timeout: HTTP 500, coded, so that failurePolicy decides', async () => {
    const server = await serve(() => undefined);
    const { answer, ms } = await admit(server);
    expect(answer).toMatchObject({ status: 500, outcome: 'error', body: { error: 'SIDECAR_ERR_WEBHOOK_KUBE' } });
    expect(answer.reason).toMatch(/no answer within 300 ms/);
    expect(ms).toBeLessThan(5_000);
  });

  it('stops reading one that never stops answering', async () => {
    const chunk = Buffer.alloc(1024 * 1024, 0x20);
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const pump = () => {
        while (res.write(chunk));
      };
      res.on('drain', pump);
      res.on('error', () => undefined);
      pump();
    });
    const { answer } = await admit(server, join(dir, 'token'), '8s');
    expect(answer).toMatchObject({ status: 500, outcome: 'error' });
    expect(answer.reason).toMatch(/larger than 16777216 bytes/);
  });

  it('gives up on one that trickles its answer a byte at a time, at api_timeout for the whole call', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const timer = setInterval(() => res.write(' '), 50);
      res.on('close', () => clearInterval(timer));
    });
    const { answer, ms } = await admit(server);
    expect(answer).toMatchObject({ status: 500, outcome: 'error' });
    expect(answer.reason).toMatch(/no answer within 300 ms/);
    expect(ms).toBeLessThan(5_000);
  });

  it('refuses the pod, naming the annotation, when the ConfigMap does not exist; fails coded on RBAC and a missing token', async () => {
    const status = (code: number) => serve((_req, res) => res.writeHead(code, { 'content-type': 'application/json' }).end('{"kind":"Status"}'));
    expect((await admit(await status(404))).answer).toMatchObject({
      status: 200,
      outcome: 'refused',
      reason: expect.stringMatching(/^secrets-sidecar\.io\/config: ConfigMap "cm" does not exist/) as string,
    });
    expect((await admit(await status(403))).answer).toMatchObject({ status: 500, outcome: 'error', reason: 'GET ConfigMap "cm" in "apps": HTTP 403' });
    const missing = await admit(await status(200), join(dir, 'no-token'));
    expect(missing.answer).toMatchObject({ status: 500, body: { error: 'SIDECAR_ERR_WEBHOOK_KUBE' } });
    expect(missing.answer.reason).toMatch(/cannot read the service-account token/);
  });
});
