import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SidecarError } from '../errors.js';
import { errorFields } from '../log/error-fields.js';
import type { Logger } from '../log/logger.js';
import { FactsCache, answerReview, type AdmissionDeps } from './admission-review.js';
import { createKubeClient } from './kube-client.js';
import { TlsReloader } from './tls-reloader.js';
import { findUninjectedPods } from './uninjected-scan.js';
import { ownNamespace, type WebhookConfig } from './webhook-config.js';
import { WebhookMetrics } from './webhook-metrics.js';

/*
 * The webhook's HTTPS listener: POST /mutate (AdmissionReview), GET /healthz, /readyz and /metrics. Every request
 * is bounded in size and time, well inside the API server's 10 s.
 */

/** A pod is stored whole in etcd (1.5 MiB) and a request is at most 3 MiB: a review past 6 MiB is not one. */
export const MAX_REVIEW_BYTES = 6 * 1024 * 1024;
/**
 * Bodies held at once, all requests together: many large reviews in parallel get 503 (the API server retries or
 * applies failurePolicy) rather than the webhook's memory limit. Real reviews are kilobytes.
 */
export const MAX_BUFFERED_BYTES = 4 * MAX_REVIEW_BYTES;
let buffered = 0;

export interface RunningWebhook {
  readonly port: number;
  close(): Promise<void>;
}

export async function startWebhook(config: WebhookConfig, logger: Logger, env: Readonly<Record<string, string | undefined>>): Promise<RunningWebhook> {
  const namespace = await ownNamespace(config, env);
  const metrics = new WebhookMetrics();
  const tls = new TlsReloader(config.tlsCertFile, config.tlsKeyFile, config.tlsReloadMs, logger, (outcome) => metrics.certificate(outcome));
  const pair = await tls.load();
  const kube = await createKubeClient(config.kubernetes, env, config.apiTimeoutMs);
  const deps: AdmissionDeps = { config, ownNamespace: namespace, kube };
  const facts = new FactsCache();

  const server: Server = createServer({ cert: pair.cert, key: pair.key }, (req, res) => {
    handle(req, res, deps, facts, metrics, logger).catch((error: unknown) => {
      logger.error({ error: errorFields(error) }, 'webhook request failed');
      if (!res.headersSent) send(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  });
  server.requestTimeout = 9_000;
  server.headersTimeout = 5_000;
  // The API server keeps its connections to a webhook open: reuse saves a TLS handshake per admission.
  server.keepAliveTimeout = 60_000;
  server.on('tlsClientError', (error) => logger.debug({ error: { message: error.message } }, 'TLS handshake failed'));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(new SidecarError('SIDECAR_ERR_CONFIG_INVALID', `webhook: cannot listen on ${config.host}:${config.port} (${error.code ?? error.message})`)),
    );
    server.listen(config.port, config.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  tls.start((_context, next) => server.setSecureContext({ cert: next.cert, key: next.key }));
  logger.info(
    { address: `${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`, namespace, failurePolicy: config.failurePolicy },
    'webhook listening',
  );

  if (config.failurePolicy === 'Ignore') {
    // In the background: admissions are served meanwhile.
    findUninjectedPods(kube, config, namespace).then(
      (scan) => {
        metrics.uninjected(scan.count);
        const fields = { uninjected: scan.count, pods: scan.examples, truncated: scan.truncated };
        if (scan.count > 0)
          logger.warn(fields, 'pods ask for injection but run without the sidecar (admitted while the webhook was down); restart them to inject');
        else logger.info(fields, 'no annotated pod lacks the sidecar');
      },
      (error: unknown) => logger.warn({ error: errorFields(error) }, 'could not list pods lacking the sidecar'),
    );
  }

  return {
    port,
    close: async () => {
      tls.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      kube.close();
    },
  };
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  deps: AdmissionDeps,
  facts: FactsCache,
  metrics: WebhookMetrics,
  logger: Logger,
): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  const route = `${req.method ?? 'GET'} ${path}`;
  if (route === 'GET /healthz' || route === 'GET /readyz') return send(res, 200, { status: 'ok' });
  if (route === 'GET /metrics') {
    const text = await metrics.text();
    res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text);
    return;
  }
  if (route !== 'POST /mutate') {
    req.resume();
    return send(res, 404, { error: 'no such route' });
  }
  const started = performance.now();
  const held = { bytes: 0 };
  try {
    const body = await readBody(req, held);
    if ('refused' in body) {
      metrics.admission('error', (performance.now() - started) / 1000);
      const tooLarge = body.refused === 'too-large';
      logger.warn(
        { limit: tooLarge ? MAX_REVIEW_BYTES : MAX_BUFFERED_BYTES },
        tooLarge ? 'admission review refused: too large' : 'admission review refused: busy',
      );
      // The rest of the body is never read: answer, then close the connection.
      res.setHeader('connection', 'close');
      res.once('finish', () => req.socket.destroy());
      if (tooLarge) send(res, 413, { error: `an AdmissionReview is at most ${MAX_REVIEW_BYTES} bytes` });
      else send(res, 503, { error: 'too many large reviews at once' });
      return;
    }
    await answer(body.text, res, started, deps, facts, metrics, logger);
  } finally {
    buffered -= held.bytes;
  }
}

async function answer(
  body: string,
  res: ServerResponse,
  started: number,
  deps: AdmissionDeps,
  facts: FactsCache,
  metrics: WebhookMetrics,
  logger: Logger,
): Promise<void> {
  const answer = await answerReview(body, deps, facts);
  metrics.admission(answer.outcome, (performance.now() - started) / 1000);
  const fields = { outcome: answer.outcome, pod: answer.pod, reason: answer.reason, ms: Math.round(performance.now() - started) };
  if (answer.outcome === 'error') logger.error(fields, 'admission failed');
  else if (answer.outcome === 'skipped') logger.debug(fields, 'admission');
  else logger.info(fields, 'admission');
  send(res, answer.status, answer.body);
}

/**
 * The body as text; 'too-large' once it passes MAX_REVIEW_BYTES (announced or sent), 'busy' when all requests
 * together would hold more than MAX_BUFFERED_BYTES. The rest is then not read. `held` counts what this request
 * holds of the shared budget, for the caller to give back.
 */
function readBody(req: IncomingMessage, held: { bytes: number }): Promise<{ readonly text: string } | { readonly refused: 'too-large' | 'busy' }> {
  if (Number(req.headers['content-length'] ?? 0) > MAX_REVIEW_BYTES) return Promise.resolve({ refused: 'too-large' });
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const onData = (chunk: Buffer) => {
      const refusal = held.bytes + chunk.length > MAX_REVIEW_BYTES ? 'too-large' : buffered + chunk.length > MAX_BUFFERED_BYTES ? 'busy' : undefined;
      if (refusal === undefined) {
        held.bytes += chunk.length;
        buffered += chunk.length;
        return void chunks.push(chunk);
      }
      req.off('data', onData).pause();
      resolve({ refused: refusal });
    };
    req.on('data', onData);
    req.once('end', () => resolve({ text: Buffer.concat(chunks).toString('utf8') }));
    req.once('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
}
