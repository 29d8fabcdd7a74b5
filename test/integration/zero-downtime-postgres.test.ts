import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Daemon, runCli } from '../support/cli.js';
import { REPO_ROOT, makeTmpfsDir, removeDir } from '../support/dirs.js';
import { adaptExample } from '../support/example.js';
import { JsonLines } from '../support/json-lines.js';
import { expectNoSecrets } from '../support/leaks.js';
import { freePort, startOpenBao, type OpenBao } from '../support/openbao.js';
import { startPostgres, type Postgres } from '../support/postgres.js';
import { mountDatabaseEngine } from '../support/database-engine.js';
import { httpCall } from '../support/http.js';

const ROTATIONS = 20;
/** Bounds on the request loop: it stops after the rotations, or at these, whichever comes first. */
const MAX_REQUESTS = 2_000_000;
const MAX_LOOP_MS = 150_000;
let bao: OpenBao;
let pg: Postgres;
let dir: string;
let app: ChildProcess | undefined;
let daemon: Daemon | undefined;

beforeAll(async () => {
  [bao, pg] = await Promise.all([startOpenBao(), startPostgres()]);
  // Short TTL and max TTL: a user lives 4 s.
  await mountDatabaseEngine(bao, pg, { app: { defaultTtl: '4s', maxTtl: '4s' } });
  await bao.api('PUT', 'sys/policies/acl/app-db', {
    policy:
      'path "database/creds/app" {\n  capabilities = ["read"]\n}\npath "sys/leases/renew" {\n  capabilities = ["update"]\n}\npath "sys/leases/revoke" {\n  capabilities = ["update"]\n}\n',
  });
  await bao.api('POST', 'sys/auth/approle', { type: 'approle' });
  await bao.api('POST', 'auth/approle/role/app', { token_policies: ['app-db'], token_ttl: '1h', token_max_ttl: '24h' });
  dir = await makeTmpfsDir('postgres-dynamic-');
});
afterAll(async () => {
  await daemon?.stop();
  app?.kill('SIGTERM');
  await bao?.stop();
  pg?.stop();
  await removeDir(dir);
});

describe('examples/postgres-dynamic: an app on dynamic PostgreSQL credentials never sees a failed query', () => {
  it(`rotates the credentials ${ROTATIONS} times under a steady request loop with zero failed queries`, { timeout: 240_000 }, async () => {
    const roleId = ((await bao.api('GET', 'auth/approle/role/app/role-id'))?.['data'] as { role_id: string }).role_id;
    const secretId = ((await bao.api('POST', 'auth/approle/role/app/secret-id'))?.['data'] as { secret_id: string }).secret_id;
    await writeFile(join(dir, 'role_id'), roleId);
    await writeFile(join(dir, 'secret_id'), secretId);
    const secrets = join(dir, 'app-secrets');
    // The example as shipped, with this machine's server and paths, and a margin sized for 4 s users (the
    // example's 15 s suits credentials that live hours).
    const config = await adaptExample('postgres-dynamic/sidecar.hcl', [
      ['http://openbao:8200', bao.address],
      ['/etc/secrets-sidecar/role_id', join(dir, 'role_id')],
      ['/run/secrets/secret_id', join(dir, 'secret_id')],
      ['/run/secrets-sidecar-cache', join(dir, 'sidecar-cache')],
      ['/run/app-secrets', secrets],
      ['rotation_margin = "15s"', 'rotation_margin = "1500ms"'],
    ]);
    await writeFile(join(dir, 'sidecar.hcl'), config);

    // As in the compose file: `once` first, then the app, then `run` beside it.
    const init = await runCli(['once', '-c', join(dir, 'sidecar.hcl')]);
    expect(init.code, init.stderr).toBe(0);
    const port = await freePort();
    app = spawn(process.execPath, [join(REPO_ROOT, 'examples/postgres-dynamic/app/server.mjs')], {
      env: {
        PATH: process.env.PATH ?? '',
        CREDENTIALS_FILE: join(secrets, 'db.json'),
        PID_FILE: join(secrets, 'app.pid'),
        PGHOST: '127.0.0.1',
        PGPORT: String(pg.port),
        HOST: '127.0.0.1',
        PORT: String(port),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const appExited = new Promise<void>((resolve) => app?.once('close', () => resolve()));
    const appLog = new JsonLines(appExited, () => 'the example app exited');
    app.stdout?.on('data', (chunk: Buffer) => appLog.feed(chunk.toString()));
    await appLog.waitFor((r) => r['event'] === 'listening');
    daemon = new Daemon(['-c', join(dir, 'sidecar.hcl')]);
    await daemon.waitFor((r) => r.msg === 'all templates rendered');

    // The steady loop: two clients, one query each at a time, until the app has swapped pools ROTATIONS times.
    const swapped = () => appLog.count((r) => r['event'] === 'pool swapped');
    const start = swapped();
    const users = new Set<string>();
    let requests = 0;
    const failures: string[] = [];
    const deadline = Date.now() + MAX_LOOP_MS;
    const client = async () => {
      while (swapped() - start < ROTATIONS && requests < MAX_REQUESTS && Date.now() < deadline) {
        requests++;
        const answer = await httpCall(port, 'GET', '/').catch((error: Error) => ({ status: 0, body: error.message }));
        if (answer.status === 200) users.add((JSON.parse(answer.body) as { user: string }).user);
        else failures.push(`${answer.status} ${answer.body}`);
      }
    };
    await Promise.all([client(), client()]);
    const rotations = swapped() - start;
    const credentials = await readFile(join(secrets, 'db.json'), 'utf8');
    await daemon.stop();
    const pgLog = await readFile(pg.logFile, 'utf8');
    const refusedLogins = pgLog.split('\n').filter((line) => /password authentication failed|expired password|role .* does not exist/.test(line));

    console.log(
      `postgres-dynamic: ${rotations} rotations, ${users.size} database users served, ${requests} requests, ${failures.length} failed; PostgreSQL refused ${refusedLogins.length} logins`,
    );
    expect(rotations).toBe(ROTATIONS);
    expect(failures).toEqual([]);
    expect(users.size).toBeGreaterThanOrEqual(ROTATIONS);
    expect(refusedLogins).toEqual([]);
    expect(appLog.count((r) => r['event'] === 'query failed' || r['event'] === 'cannot read new credentials; keeping the current pool')).toBe(0);
    const password = (JSON.parse(credentials) as { password: string }).password;
    expectNoSecrets(daemon.stderr + init.stderr, [password, secretId]);
  });
});
