import type { OpenBao } from './openbao.js';
import type { Postgres } from './postgres.js';

/**
 * OpenBao's database secrets engine at `database/`, on the test's PostgreSQL, with one role per entry. Each user
 * is created VALID UNTIL its lease's end, so PostgreSQL itself refuses a credential past its lease: a file that
 * held expired credentials would show.
 */
export async function mountDatabaseEngine(
  bao: OpenBao,
  pg: Postgres,
  roles: Readonly<Record<string, { readonly defaultTtl: string; readonly maxTtl: string }>>,
): Promise<void> {
  await bao.api('POST', 'sys/mounts/database', { type: 'database' });
  await bao.api('POST', 'database/config/pg', {
    plugin_name: 'postgresql-database-plugin',
    connection_url: `postgresql://{{username}}:{{password}}@127.0.0.1:${pg.port}/postgres?sslmode=disable`,
    username: 'postgres',
    password: pg.superuserPassword,
    allowed_roles: Object.keys(roles),
  });
  for (const [name, ttl] of Object.entries(roles)) {
    await bao.api('POST', `database/roles/${name}`, {
      db_name: 'pg',
      creation_statements: [`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`],
      default_ttl: ttl.defaultTtl,
      max_ttl: ttl.maxTtl,
    });
  }
}
