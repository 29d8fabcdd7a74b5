import { CreateSecretCommand, DeleteSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { existsSync, readFileSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Daemon, runCli, type LogRecord } from '../support/cli.js';
import { removeDir } from '../support/dirs.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { expectNoSecrets } from '../support/leaks.js';
import { AWS_TEST_ENV, awsCall, motoClientConfig, startMoto, type Moto } from '../support/moto.js';
import { makeProject, type Project } from '../support/project.js';
import { startToxiproxy, type Toxiproxy } from '../support/toxiproxy.js';

/*
 * Issue 22, AWS: whole-request deadlines, the abort reaching every call, and coded errors for what a hostile
 * or broken path to AWS does (throttling, resets, lying answers), against moto behind toxiproxy (TCP: trickle,
 * stall) and the fault proxy (HTTP: 429 with Retry-After, resets, a 200 that is not JSON).
 */
let moto: Moto;
let sm: SecretsManagerClient;
let toxi: Toxiproxy;
let faults: FaultProxy;
let project: Project | undefined;
let daemon: Daemon | undefined;
let toxic: string | undefined;

/** What the once and SIGTERM bounds allow beyond their own time: Node's start-up, loading the SDK, closing. */
const GRACE_MS = 2_000;
const SECRET = 'aws-fault-pw-9a9a';

beforeAll(async () => {
  moto = await startMoto();
  sm = new SecretsManagerClient(motoClientConfig(moto));
  await sm.send(new CreateSecretCommand({ Name: 'app/db', SecretString: JSON.stringify({ password: SECRET }) }));
  toxi = await startToxiproxy(moto.endpoint.replace('http://', ''));
  faults = await startFaultProxy(moto.endpoint);
});
afterAll(async () => {
  sm?.destroy();
  await faults?.stop();
  await toxi?.stop();
  await moto?.stop();
});
afterEach(async () => {
  if (toxic) await toxi.removeToxic(toxic);
  faults.clear();
  await daemon?.stop();
  await removeDir(project?.root);
  daemon = project = toxic = undefined;
});

function config(endpoint: string, extra = '', secret = 'app/db#password'): string {
  return `
backend "aws_secrets_manager" "prod" {
  endpoint = "${endpoint}"
  ${extra}
}
retry {
  backoff     = "100ms"
  max_backoff = "5s"
}
template {
  contents    = "{{secret \\"prod:${secret}\\"}}"
  destination = "@OUT@/pw"
}
`;
}

const throughToxiproxy = () => `http://${toxi.listen}`;
const warnings = (r: LogRecord) => r.msg === 'fetch failed, retrying with backoff';
const errorOf = (r: LogRecord) => r['error'] as { code: string; message: string };
const abandoned = (call: string) => (r: LogRecord) => r.msg === 'request in flight abandoned' && r['call'] === call;
const records = (stderr: string): LogRecord[] =>
  stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogRecord);

/** Two ways to keep an answer from ever completing; each returns the endpoint to give the sidecar. */
const SLOW_SERVERS = [
  {
    name: 'trickles its answer (toxiproxy, a byte every 500 ms)',
    endpoint: async () => {
      toxic = await toxi.addToxic('slicer', { average_size: 1, size_variation: 0, delay: 500_000 });
      return throughToxiproxy();
    },
  },
  {
    // toxiproxy's timeout toxic closes the client's connection here ("socket hang up"): not a stall.
    name: 'stalls (the fault proxy accepts, never answers)',
    endpoint: () => {
      faults.stall('/');
      return Promise.resolve(faults.address);
    },
  },
];

describe('AWS: a request ends at its deadline, and the abort reaches it', () => {
  it.each(SLOW_SERVERS)('once --timeout 5s exits 6 within the timeout when moto $name', async ({ name, endpoint }) => {
    project = await makeProject({ config: config(await endpoint()) });
    const started = performance.now();
    const result = await runCli(['once', '-c', project.config, '--timeout', '5s'], { env: AWS_TEST_ENV });
    const elapsedMs = performance.now() - started;
    console.info(`once --timeout 5s, moto ${name}: exit ${result.code} after ${Math.round(elapsedMs)} ms`);
    expect(result.code, result.stderr.slice(-1500)).toBe(6);
    expect(elapsedMs).toBeLessThan(5_000 + GRACE_MS);
    expect(result.stderr).toContain('once did not finish within 5s; still waiting for prod:app/db');
    // The log names the call the timeout cut short.
    expect(records(result.stderr).filter(abandoned('backend "prod": app/db')), result.stderr).toHaveLength(1);
    expectNoSecrets(result.stderr, [SECRET, AWS_TEST_ENV.AWS_SECRET_ACCESS_KEY]);
  });

  it('once --timeout 5s exits 6 within the timeout when moto trickles an SSM answer', async () => {
    const ssm = new SSMClient(motoClientConfig(moto));
    await ssm.send(new PutParameterCommand({ Name: '/app/ssm-pw', Value: 'aws-ssm-fault-3b3b', Type: 'SecureString' }));
    ssm.destroy();
    toxic = await toxi.addToxic('slicer', { average_size: 1, size_variation: 0, delay: 500_000 });
    project = await makeProject({
      config: `backend "aws_ssm" "params" {\n  endpoint = "${throughToxiproxy()}"\n}\ntemplate {\n  contents = "{{secret \\"params:/app/ssm-pw\\"}}"\n  destination = "@OUT@/pw"\n}\n`,
    });
    const started = performance.now();
    const result = await runCli(['once', '-c', project.config, '--timeout', '5s'], { env: AWS_TEST_ENV });
    const elapsedMs = performance.now() - started;
    console.info(`once --timeout 5s, SSM trickle: exit ${result.code} after ${Math.round(elapsedMs)} ms`);
    expect(result.code, result.stderr.slice(-1500)).toBe(6);
    expect(elapsedMs).toBeLessThan(5_000 + GRACE_MS);
    expect(result.stderr).toContain('still waiting for params:/app/ssm-pw');
  });

  it('ends each attempt at request_timeout with a log line saying so, and renders once the answer flows again', async () => {
    toxic = await toxi.addToxic('slicer', { average_size: 1, size_variation: 0, delay: 500_000 });
    project = await makeProject({ config: config(throughToxiproxy(), 'request_timeout = "1s"') });
    daemon = new Daemon(['-c', project.config], { env: AWS_TEST_ENV });
    const first = await daemon.waitFor(warnings);
    const second = await daemon.waitFor(warnings, daemon.records.indexOf(first) + 1);
    expect(errorOf(first)).toMatchObject({
      code: 'SIDECAR_ERR_BACKEND_UNAVAILABLE',
      message: expect.stringContaining('app/db: no complete answer within 1s (request_timeout)') as unknown,
    });
    // Each attempt lasts its deadline, not the minutes the trickle would take.
    const attemptMs = Date.parse(String(second['time'])) - Date.parse(String(first['time'])) - Number(first['retryInMs']);
    console.info(`request_timeout 1s against a trickle: one attempt took ${attemptMs} ms`);
    expect(attemptMs).toBeGreaterThanOrEqual(900);
    expect(attemptMs).toBeLessThan(1_900);
    await toxi.removeToxic(toxic);
    toxic = undefined;
    await daemon.waitFor((r) => r.msg === 'all templates rendered');
    expect(readFileSync(join(project.out, 'pw'), 'utf8')).toBe(SECRET);
    expectNoSecrets(daemon.stderr, [SECRET, AWS_TEST_ENV.AWS_SECRET_ACCESS_KEY]);
  });

  it.each(SLOW_SERVERS)('run exits within a second of SIGTERM while moto $name', async ({ name, endpoint }) => {
    project = await makeProject({ config: config(await endpoint()) });
    daemon = new Daemon(['-c', project.config, '--log-level', 'debug'], { env: AWS_TEST_ENV });
    // The call log line comes as the request goes out: it is in flight from here on.
    await daemon.waitFor(awsCall('BatchGetSecretValueCommand'));
    const started = performance.now();
    daemon.signal('SIGTERM');
    const exit = await daemon.exited;
    const elapsedMs = performance.now() - started;
    console.info(`run, SIGTERM while moto ${name}: exit ${exit.code} after ${Math.round(elapsedMs)} ms`);
    expect(exit.code).toBe(0);
    expect(elapsedMs).toBeLessThan(1_000);
    expect(daemon.count((r) => r.msg === 'shutting down')).toBe(1);
    expect(daemon.count(abandoned('backend "prod": app/db'))).toBe(1);
  });
});

describe('AWS: input hygiene and error classes', () => {
  it('refuses a backend with no region at start as a config error (exit 2) naming the option, without a call', async () => {
    project = await makeProject({ config: config(moto.endpoint) });
    const noRegion = { AWS_ACCESS_KEY_ID: AWS_TEST_ENV.AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: AWS_TEST_ENV.AWS_SECRET_ACCESS_KEY, HOME: project.root };
    const result = await runCli(['once', '-c', project.config, '--log-level', 'debug', '--timeout', '20s'], { env: noRegion });
    expect(result.code, result.stderr.slice(-1500)).toBe(2);
    expect(result.stderr).toContain('backend \\"prod\\": no AWS region (Region is missing)');
    expect(result.stderr).toContain('set region in the backend block, or AWS_REGION');
    expect(result.stderr).not.toContain('"msg":"aws call"');
  });

  it('codes AWS throttling SIDECAR_ERR_BACKEND_THROTTLED and waits as its Retry-After asks', async () => {
    const seen = faults.count('/');
    faults.failFirst('/', 3, { status: 429, body: { __type: 'ThrottlingException', message: 'Rate exceeded' }, headers: { 'Retry-After': '1' } });
    project = await makeProject({ config: config(faults.address) });
    const result = await runCli(['once', '-c', project.config, '--timeout', '30s'], { env: AWS_TEST_ENV });
    expect(result.code, result.stderr.slice(-1500)).toBe(0);
    const retries = records(result.stderr).filter(warnings);
    console.info(`429 + Retry-After: 1 x3: requests ${faults.count('/') - seen}, waits ${retries.map((r) => String(r['retryInMs'])).join(', ')} ms`);
    expect(retries).toHaveLength(3);
    for (const retry of retries) {
      expect(errorOf(retry)).toMatchObject({
        code: 'SIDECAR_ERR_BACKEND_THROTTLED',
        message: expect.stringContaining('throttled by AWS (ThrottlingException (429)); it asked to wait 1s') as unknown,
      });
      // backoff 100 ms would wait 50-400 ms for the first three attempts; the server asked for a second.
      expect(Number(retry['retryInMs'])).toBeGreaterThanOrEqual(1_000);
    }
    expect(faults.count('/') - seen).toBe(4);
    expect(readFileSync(join(project.out, 'pw'), 'utf8')).toBe(SECRET);
    expectNoSecrets(result.stderr, [SECRET, AWS_TEST_ENV.AWS_SECRET_ACCESS_KEY]);
  });

  it('backs off from a bare 429 (a proxy, no body) four times longer than from a 503', async () => {
    faults.failFirst('/', 1, { status: 429, body: '' });
    project = await makeProject({ config: config(faults.address) });
    const throttled = await runCli(['once', '-c', project.config, '--timeout', '30s'], { env: AWS_TEST_ENV });
    expect(throttled.code, throttled.stderr.slice(-1500)).toBe(0);
    faults.clear();
    faults.failFirst('/', 1, { status: 503, body: '' });
    const unavailable = await runCli(['once', '-c', project.config, '--timeout', '30s'], { env: AWS_TEST_ENV });
    expect(unavailable.code, unavailable.stderr.slice(-1500)).toBe(0);
    const [slow] = records(throttled.stderr).filter(warnings);
    const [fast] = records(unavailable.stderr).filter(warnings);
    expect(errorOf(slow as LogRecord)).toMatchObject({ code: 'SIDECAR_ERR_BACKEND_THROTTLED', message: expect.stringContaining('(429)') as unknown });
    expect(errorOf(fast as LogRecord).code).toBe('SIDECAR_ERR_BACKEND_UNAVAILABLE');
    // First retry: 100 ms backoff gives 50-100 ms; throttled, as the third doubling, 200-400 ms.
    expect(Number(fast?.['retryInMs'])).toBeLessThanOrEqual(100);
    expect(Number(slow?.['retryInMs'])).toBeGreaterThanOrEqual(200);
  });

  it('says "connection reset by the server" for a reset, and retries it', async () => {
    const seen = faults.count('/');
    faults.reset('/', { times: 1 });
    project = await makeProject({ config: config(faults.address) });
    const result = await runCli(['once', '-c', project.config, '--timeout', '30s'], { env: AWS_TEST_ENV });
    expect(result.code, result.stderr.slice(-1500)).toBe(0);
    const [retry] = records(result.stderr).filter(warnings);
    expect(errorOf(retry as LogRecord)).toMatchObject({
      code: 'SIDECAR_ERR_BACKEND_UNAVAILABLE',
      message: expect.stringMatching(
        /app\/db: connection (reset by the server \(ECONNRESET\)|closed by the server before it answered \(socket hang up\))$/,
      ) as unknown,
    });
    expect(faults.count('/') - seen).toBe(2);
  });

  it('says "connection refused" when nothing listens at the endpoint', async () => {
    project = await makeProject({ config: config('http://127.0.0.1:9') });
    const result = await runCli(['once', '-c', project.config, '--timeout', '2s'], { env: AWS_TEST_ENV });
    expect(result.code).toBe(6);
    expect(result.stderr).toContain(
      'still waiting for prod:app/db (last error: backend \\"prod\\": app/db: connection refused: nothing listens at that address (ECONNREFUSED))',
    );
  });

  it('serves a secret scheduled for deletion on, and warns once naming the deletion date', async () => {
    await sm.send(new CreateSecretCommand({ Name: 'app/doomed', SecretString: 'aws-doomed-7e7e' }));
    project = await makeProject({ config: config(moto.endpoint, 'refresh_interval = "200ms"', 'app/doomed') });
    daemon = new Daemon(['-c', project.config, '--log-level', 'debug'], { env: AWS_TEST_ENV });
    await daemon.waitFor((r) => r.msg === 'all templates rendered');
    const deleted = await sm.send(new DeleteSecretCommand({ SecretId: 'app/doomed', RecoveryWindowInDays: 7 }));
    const date = deleted.DeletionDate?.toISOString() ?? '';
    const warning = await daemon.waitFor((r) => String(r.msg).includes('is scheduled for deletion'));
    expect(warning).toMatchObject({ level: 'warn', secretName: 'app/doomed', deletionDate: date });
    expect(warning.msg).toContain(`secret app/doomed is scheduled for deletion on ${date}; the value already read is still served`);
    // Three more polls done (a fourth has begun): still served, not warned again.
    let from = daemon.records.indexOf(warning) + 1;
    for (let i = 0; i < 4; i++) from = daemon.records.indexOf(await daemon.waitFor(awsCall('DescribeSecretCommand'), from)) + 1;
    expect(daemon.count((r) => String(r.msg).includes('is scheduled for deletion'))).toBe(1);
    expect(daemon.count((r) => r.level === 'error' || warnings(r))).toBe(0);
    expect(readFileSync(join(project.out, 'pw'), 'utf8')).toBe('aws-doomed-7e7e');
    expectNoSecrets(daemon.stderr, ['aws-doomed-7e7e', AWS_TEST_ENV.AWS_SECRET_ACCESS_KEY]);
  });

  it('names the deletion date when a secret scheduled for deletion is read for the first time (exit 3)', async () => {
    await sm.send(new CreateSecretCommand({ Name: 'app/gone-soon', SecretString: 'aws-gone-soon-8f8f' }));
    const deleted = await sm.send(new DeleteSecretCommand({ SecretId: 'app/gone-soon', RecoveryWindowInDays: 7 }));
    project = await makeProject({ config: config(moto.endpoint, '', 'app/gone-soon') });
    const result = await runCli(['once', '-c', project.config, '--timeout', '20s'], { env: AWS_TEST_ENV });
    expect(result.code, result.stderr.slice(-1500)).toBe(3);
    expect(result.stderr).toContain(
      `app/gone-soon: scheduled for deletion on ${deleted.DeletionDate?.toISOString() ?? '?'}, and cannot be read until the deletion is cancelled`,
    );
    expect(result.stderr).toContain('restore it (aws secretsmanager restore-secret)');
  });
});

/** A server that answers every request with these raw bytes, then closes: an HTTP answer that lies. */
async function rawServer(answer: string): Promise<{ endpoint: string; close: () => Promise<void> }> {
  const server = createNetServer((socket) => {
    socket.once('data', () => socket.end(answer));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** A raw HTTP/1.1 answer of 200 with this JSON body, as Secrets Manager sends it. */
const okAnswer = (body: string) => `HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

describe('AWS: hostile values and lying answers', () => {
  const onceWith = async (endpoint: string, secret: string, timeout = '3s') => {
    project = await makeProject({ config: config(endpoint, '', secret) });
    return runCli(['once', '-c', project.config, '--timeout', timeout], { env: AWS_TEST_ENV });
  };
  const lastError = (stderr: string) =>
    errorOf(
      records(stderr)
        .filter((r) => r.level === 'error')
        .at(-1) as LogRecord,
    );

  it.each([
    { what: 'an empty SecretString', value: { SecretString: '' }, message: 'app/db: SecretString is empty' },
    { what: 'an empty SecretBinary', value: { SecretBinary: '' }, message: 'app/db: SecretBinary is empty' },
    { what: 'neither SecretString nor SecretBinary', value: {}, message: 'app/db: the answer holds neither SecretString nor SecretBinary' },
  ])('refuses $what with a coded error naming the secret, and writes nothing', async ({ value, message }) => {
    const server = await rawServer(
      okAnswer(
        JSON.stringify({ SecretValues: [{ Name: 'app/db', ARN: 'arn:aws:secretsmanager:eu-west-1:1:secret:app/db', VersionId: 'v1', ...value }], Errors: [] }),
      ),
    );
    const result = await onceWith(server.endpoint, 'app/db');
    await server.close();
    expect(result.code, result.stderr.slice(-1500)).toBe(3);
    expect(lastError(result.stderr)).toMatchObject({ code: 'SIDECAR_ERR_BACKEND_MALFORMED', message: expect.stringContaining(message) as unknown });
    expect(existsSync(join(project?.out ?? '', 'pw'))).toBe(false);
  });

  it('refuses a 3 MB secret as larger than AWS allows, naming it', async () => {
    await sm.send(new CreateSecretCommand({ Name: 'app/huge', SecretString: 'h'.repeat(3 * 1024 * 1024) }));
    const result = await onceWith(moto.endpoint, 'app/huge');
    expect(result.code, result.stderr.slice(-1500)).toBe(3);
    expect(lastError(result.stderr)).toMatchObject({
      code: 'SIDECAR_ERR_BACKEND_MALFORMED',
      message: expect.stringContaining('app/huge: the value is 3145728 bytes, more than the 65536 AWS allows a secret') as unknown,
    });
  });

  it('stops reading an answer that declares 100 MB, or streams without end, at 8 MiB', async () => {
    const declared = await rawServer('HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: 104857600\r\n\r\n{"SecretValues":[');
    const huge = await onceWith(declared.endpoint, 'app/db');
    await declared.close();
    expect(huge.code, huge.stderr.slice(-1500)).toBe(3);
    expect(lastError(huge.stderr)).toMatchObject({
      code: 'SIDECAR_ERR_BACKEND_MALFORMED',
      message: expect.stringContaining('app/db: the answer is 104857600 bytes or more, larger than any AWS answer') as unknown,
    });

    // Chunked, 64 KiB a chunk, for as long as the client reads.
    const endless = createNetServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', () => {
        socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nTransfer-Encoding: chunked\r\n\r\n');
        const chunk = `10000\r\n${'x'.repeat(0x10000)}\r\n`;
        const pump = () => {
          while (!socket.destroyed && socket.write(chunk));
        };
        socket.on('drain', pump);
        pump();
      });
    });
    await new Promise<void>((resolve) => endless.listen(0, '127.0.0.1', resolve));
    const streamed = await onceWith(`http://127.0.0.1:${(endless.address() as AddressInfo).port}`, 'app/db');
    await new Promise((resolve) => endless.close(resolve));
    expect(streamed.code, streamed.stderr.slice(-1500)).toBe(3);
    expect(lastError(streamed.stderr)).toMatchObject({
      code: 'SIDECAR_ERR_BACKEND_MALFORMED',
      message: expect.stringMatching(/app\/db: the answer is \d+ bytes or more, larger than any AWS answer \(at most 8388608\)/) as unknown,
    });
  });

  it('codes a 200 answer that is not JSON as malformed, and retries it', async () => {
    const seen = faults.count('/');
    faults.failFirst('/', 1, { status: 200, body: '<html><body>Sign in to the proxy</body></html>', headers: { 'content-type': 'text/html' } });
    const result = await onceWith(faults.address, 'app/db#password', '30s');
    expect(result.code, result.stderr.slice(-1500)).toBe(0);
    const [retry] = records(result.stderr).filter(warnings);
    expect(errorOf(retry as LogRecord)).toMatchObject({
      code: 'SIDECAR_ERR_BACKEND_MALFORMED',
      message: expect.stringContaining('app/db: the answer (HTTP 200) is not the JSON AWS sends') as unknown,
    });
    expect(faults.count('/') - seen).toBe(2);
  });

  it.each([
    {
      what: 'a body shorter than its Content-Length, as cut off',
      answer: 'HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: 5000\r\n\r\n{"SecretValues":[',
      error: 'app/db: connection closed by the server in the middle of the answer (ECONNRESET)',
    },
    {
      what: 'a body longer than its Content-Length (so cut to a JSON fragment), as malformed',
      answer:
        'HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: 10\r\n\r\n{"SecretValues":[{"Name":"app/db","SecretString":"x"}],"Errors":[]}',
      error: 'app/db: the answer (HTTP 200) is not the JSON AWS sends; a proxy or a truncated body?',
    },
  ])('names $what', async ({ answer, error }) => {
    const server = await rawServer(answer);
    const result = await onceWith(server.endpoint, 'app/db#password');
    await server.close();
    expect(result.code).toBe(6);
    expect(result.stderr).toContain(`(last error: backend \\"prod\\": ${error})`);
  });
});
