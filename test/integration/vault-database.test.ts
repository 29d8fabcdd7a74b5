import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Daemon, type LogRecord } from '../support/cli.js';
import { removeDir } from '../support/dirs.js';
import { expectNoSecrets } from '../support/leaks.js';
import { startOpenBao, type OpenBao } from '../support/openbao.js';
import { startPostgres, type Postgres } from '../support/postgres.js';
import { makeProject, type Project } from '../support/project.js';

let bao: OpenBao;
let pg: Postgres;
let project: Project | undefined;
let daemon: Daemon | undefined;

beforeAll(async () => {
  [bao, pg] = await Promise.all([startOpenBao(), startPostgres()]);
  await bao.api('POST', 'sys/mounts/database', { type: 'database' });
  await bao.api('POST', 'database/config/pg', {
    plugin_name: 'postgresql-database-plugin',
    connection_url: `postgresql://{{username}}:{{password}}@127.0.0.1:${pg.port}/postgres?sslmode=disable`,
    username: 'postgres',
    password: pg.superuserPassword,
    allowed_roles: ['app'],
  });
  // VALID UNTIL makes PostgreSQL itself refuse a credential past its lease: an expired file would show.
  await bao.api('POST', 'database/roles/app', {
    db_name: 'pg',
    creation_statements: [`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`],
    default_ttl: '4s',
    max_ttl: '12s',
  });
});
afterAll(async () => {
  await bao?.stop();
  pg?.stop();
});
afterEach(async () => {
  await daemon?.stop();
  await removeDir(project?.root);
  daemon = project = undefined;
});

const audit = (event: string) => (r: LogRecord) => (r['audit'] as { event?: string; outcome?: string } | undefined)?.event === event && (r['audit'] as { outcome: string }).outcome === 'ok';
const written = (r: LogRecord) => r.msg === 'rendered' && r['outcome'] === 'written';

interface LeaseLookup {
  data: { expire_time: string; id: string };
}

describe('vault dynamic database credentials against real OpenBao and PostgreSQL', () => {
  it('renders working credentials, renews their lease, and replaces them before max TTL while they still work', async () => {
    project = await makeProject({
      config: `
backend "vault" "main" {
  address = "${bao.address}"
  revoke_leases_on_exit = true
}
template {
  contents    = "{{#with (secret \\"main:database/creds/app\\")}}{{username}}\\n{{password}}\\n{{/with}}"
  destination = "@OUT@/db.txt"
}
`,
    });
    const file = join(project.out, 'db.txt');
    const read = () => {
      const [user = '', password = ''] = readFileSync(file, 'utf8').split('\n');
      return { user, password };
    };
    daemon = new Daemon(['-c', project.config], { env: { VAULT_TOKEN: bao.rootToken } });
    await daemon.waitFor((r) => r.msg === 'all templates rendered');
    const first = read();
    expect(pg.login(first.user, first.password)).toEqual({ ok: true, output: first.user });

    // Renewed: the lease's expiry moves forward.
    const leases = (await bao.api('LIST', 'sys/leases/lookup/database/creds/app')) as { data: { keys: string[] } };
    const leaseId = `database/creds/app/${leases.data.keys[0] ?? ''}`;
    const before = Date.parse(((await bao.api('PUT', 'sys/leases/lookup', { lease_id: leaseId })) as unknown as LeaseLookup).data.expire_time);
    await daemon.waitFor(audit('secret.renew'));
    const after = Date.parse(((await bao.api('PUT', 'sys/leases/lookup', { lease_id: leaseId })) as unknown as LeaseLookup).data.expire_time);
    expect(after).toBeGreaterThan(before);

    // Replaced before max TTL (12 s), while the old credentials still log in.
    const replaced = await daemon.waitFor(written, daemon.records.findIndex((r) => r.msg === 'all templates rendered') + 1);
    const second = read();
    expect(second.user).not.toBe(first.user);
    expect(pg.login(second.user, second.password).ok).toBe(true);
    const oldExpiry = Date.parse(((await bao.api('PUT', 'sys/leases/lookup', { lease_id: leaseId })) as unknown as LeaseLookup).data.expire_time);
    expect(Date.parse(String(replaced.time))).toBeLessThan(oldExpiry);
    expect(pg.login(first.user, first.password).ok).toBe(true);

    // revoke_leases_on_exit: both issued leases are gone after SIGTERM, and so are their database users.
    expect((await daemon.stop()).code).toBe(0);
    // Renewals re-render nothing; the replacement is one render (one reload for the app).
    expect(daemon.count(written, daemon.records.findIndex((r) => r.msg === 'all templates rendered') + 1)).toBe(1);
    expect(daemon.count(audit('secret.revoke'))).toBe(2);
    const remaining = (await bao.api('LIST', 'sys/leases/lookup/database/creds/app').catch(() => null)) as { data?: { keys?: string[] } } | null;
    expect(remaining?.data?.keys ?? []).toEqual([]);
    expect(pg.login(second.user, second.password).ok).toBe(false);
    expectNoSecrets(daemon.stderr, [first.password, second.password, bao.rootToken]);
  });
});
