import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './openbao.js';

/** A PostgreSQL cluster of the test's own, on a free loopback port, with password auth over TCP. */
export interface Postgres {
  readonly port: number;
  readonly superuserPassword: string;
  /** The server's own log (failed logins are FATAL lines in it). */
  readonly logFile: string;
  /** Logs in as `user` with `password` and runs `sql`; resolves with psql's exit code and output. */
  login(user: string, password: string, sql?: string): { ok: boolean; output: string };
  stop(): void;
}

function binDir(): string {
  const versions = readdirSync('/usr/lib/postgresql')
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  if (versions.length === 0) throw new Error('PostgreSQL is not installed (/usr/lib/postgresql/*/bin): test/infra/install-test-tools.sh installs it');
  return join('/usr/lib/postgresql', versions[0] ?? '', 'bin');
}

function asPostgres(command: string, args: string[]): void {
  // initdb and pg_ctl refuse to run as root.
  const result = spawnSync('runuser', ['-u', 'postgres', '--', command, ...args], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command} failed: ${result.stderr || result.stdout}`);
}

export async function startPostgres(): Promise<Postgres> {
  const bin = binDir();
  const dir = mkdtempSync(join(tmpdir(), 'pg-'));
  chmodSync(dir, 0o755);
  const data = join(dir, 'data');
  const superuserPassword = randomBytes(12).toString('hex');
  const pwfile = join(dir, 'pwfile');
  writeFileSync(pwfile, superuserPassword);
  const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  chownSync(dir, uid, gid);
  chownSync(pwfile, uid, gid);
  asPostgres(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth-local=trust', '--auth-host=scram-sha-256', `--pwfile=${pwfile}`]);
  const port = await freePort();
  asPostgres(join(bin, 'pg_ctl'), ['-D', data, '-l', join(dir, 'log'), '-w', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`, 'start']);
  return {
    port,
    superuserPassword,
    logFile: join(dir, 'log'),
    login: (user, password, sql = 'SELECT current_user') => {
      const result = spawnSync('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', user, '-d', 'postgres', '-tAc', sql], {
        encoding: 'utf8',
        env: { PATH: process.env.PATH ?? '', PGPASSWORD: password, PGCONNECT_TIMEOUT: '5' },
      });
      return { ok: result.status === 0, output: (result.stdout + result.stderr).trim() };
    },
    stop: () => {
      spawnSync('runuser', ['-u', 'postgres', '--', join(bin, 'pg_ctl'), '-D', data, '-m', 'fast', '-w', 'stop'], { encoding: 'utf8' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
