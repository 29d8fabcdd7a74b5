import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:https';
import { join } from 'node:path';
import { CLI } from './cli.js';
import { REPO_ROOT } from './dirs.js';
import { recordShown } from './canary.js';
import { JsonLines } from './json-lines.js';
import type { LogRecord } from './cli.js';

/** A self-signed serving certificate for 127.0.0.1 (SAN IP:127.0.0.1), as the API server must verify a webhook URL. */
export function makeServingCertificate(dir: string, name = 'webhook'): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      `/CN=${name}`,
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return { cert, key };
}

/** `secrets-sidecar webhook -c FILE` from the built CLI, with its JSON log lines. */
export class WebhookProcess {
  readonly child: ChildProcess;
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly #logs: JsonLines<LogRecord>;

  constructor(configFile: string, env: Record<string, string> = {}) {
    this.child = spawn(process.execPath, [CLI, 'webhook', '-c', configFile], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.exited = new Promise((resolve) =>
      this.child.on('close', (code, signal) => {
        recordShown('secrets-sidecar webhook stderr', this.stderr);
        resolve({ code, signal });
      }),
    );
    this.#logs = new JsonLines<LogRecord>(
      this.exited,
      () => `webhook exited (code ${this.child.exitCode}) before the awaited line; stderr:\n${this.stderr.slice(-3000)}`,
    );
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
      this.#logs.feed(chunk.toString());
    });
    this.child.stdout?.resume();
  }

  get records(): readonly LogRecord[] {
    return this.#logs.records;
  }

  waitFor(predicate: (r: LogRecord) => boolean, from = 0): Promise<LogRecord> {
    return this.#logs.waitFor(predicate, from);
  }

  /** The port it listens on, once it says so. */
  async port(): Promise<number> {
    const line = await this.waitFor((r) => r.msg === 'webhook listening');
    return Number(String(line['address']).split(':').pop());
  }

  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    return this.exited;
  }
}

/** One HTTPS call to the webhook, trusting `ca`; the body is sent as given. */
export function webhookCall(
  port: number,
  ca: string | Buffer,
  method: string,
  path: string,
  body?: string | Buffer,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method, path, ca, agent: false, timeout: 15_000, headers: { 'content-type': 'application/json', ...headers } },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer within 15 s')));
    req.on('error', reject);
    req.end(body);
  });
}
