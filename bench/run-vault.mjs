// Benchmark P3 (../shared/TARGETS.md): `run` for 300 s with 20 PostgreSQL leases (TTL 30 s, max TTL 120 s) and
// 100 KV v2 secrets in 20 templates, against one OpenBao dev server and one PostgreSQL on loopback, beside
// consul-template and `bao agent` in the same run, one after the other on the same servers. Prints CPU, peak
// RSS and requests from the server's audit log (renewals and credential reads apart).
//   BENCH_SECONDS=300 node bench/run-vault.mjs          (npm run build first; consul-template as in once-vault.mjs)
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { measure } from './lib/measure.mjs';
import { startOpenBao } from './lib/openbao.mjs';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 300);
const TEMPLATES = 20;
const KV_PER_TEMPLATE = 5;
const CLI = new URL('../dist/cli/main.js', import.meta.url).pathname;
const CONSUL_TEMPLATE = new URL('../.cache/bin/consul-template', import.meta.url).pathname;
const BAO = new URL('../.cache/bin/bao', import.meta.url).pathname;

// The test suite's PostgreSQL starter, bundled for plain Node.
const support = mkdtempSync(join(tmpdir(), 'bench-support-'));
await build({
  entryPoints: [new URL('../test/support/postgres.ts', import.meta.url).pathname],
  bundle: true,
  platform: 'node',
  format: 'esm',
  outfile: join(support, 'postgres.mjs'),
  logLevel: 'error',
});
const { startPostgres } = await import(join(support, 'postgres.mjs'));

const [bao, pg] = await Promise.all([startOpenBao(), startPostgres()]);
const root = mkdtempSync('/dev/shm/sidecar-bench-run-');
try {
  await bao.api('POST', 'sys/mounts/database', { type: 'database' });
  const roles = Array.from({ length: TEMPLATES }, (_, i) => `app${i}`);
  await bao.api('POST', 'database/config/pg', {
    plugin_name: 'postgresql-database-plugin',
    connection_url: `postgresql://{{username}}:{{password}}@127.0.0.1:${pg.port}/postgres?sslmode=disable`,
    username: 'postgres',
    password: pg.superuserPassword,
    allowed_roles: roles,
  });
  for (const role of roles) {
    await bao.api('POST', `database/roles/${role}`, {
      db_name: 'pg',
      creation_statements: [`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`],
      default_ttl: '30s',
      max_ttl: '120s',
    });
  }
  for (let i = 0; i < TEMPLATES * KV_PER_TEMPLATE; i++) await bao.api('POST', `secret/data/kv${i}`, { data: { value: `bench-kv-${i}` } });
  writeFileSync(join(root, 'token'), bao.rootToken);
  mkdirSync(join(root, 'tpl'));
  let sidecar = `backend "vault" "main" {\n  address = "${bao.address}"\n  auth "token" {\n    token_file = "${join(root, 'token')}"\n  }\n}\n`;
  let ctTemplates = '';
  for (let t = 0; t < TEMPLATES; t++) {
    const kv = Array.from({ length: KV_PER_TEMPLATE }, (_, k) => t * KV_PER_TEMPLATE + k);
    writeFileSync(
      join(root, 'tpl', `t${t}.hbs`),
      `{{#with (secret "main:database/creds/${roles[t]}")}}user={{username}}\npass={{password}}\n{{/with}}${kv.map((n) => `kv${n}={{secret "main:secret/kv${n}#value"}}\n`).join('')}`,
    );
    writeFileSync(
      join(root, 'tpl', `t${t}.tpl`),
      `{{ with secret "database/creds/${roles[t]}" }}user={{ .Data.username }}\npass={{ .Data.password }}\n{{ end }}${kv.map((n) => `kv${n}={{ with secret "secret/data/kv${n}" }}{{ .Data.data.value }}{{ end }}\n`).join('')}`,
    );
    sidecar += `template {\n  source = "${join(root, 'tpl', `t${t}.hbs`)}"\n  destination = "${root}/out-sidecar/t${t}.env"\n}\n`;
    ctTemplates += `template {\n  source = "${join(root, 'tpl', `t${t}.tpl`)}"\n  destination = "${root}/out-TOOL/t${t}.env"\n}\n`;
  }
  writeFileSync(join(root, 'sidecar.hcl'), sidecar);
  writeFileSync(
    join(root, 'ct.hcl'),
    `vault {\n  address = "${bao.address}"\n  token = "${bao.rootToken}"\n  renew_token = false\n}\n${ctTemplates.replaceAll('TOOL', 'ct')}`,
  );
  writeFileSync(
    join(root, 'agent.hcl'),
    `vault {\n  address = "${bao.address}"\n}\nauto_auth {\n  method "token_file" {\n    config = {\n      token_file_path = "${join(root, 'token')}"\n    }\n  }\n}\n${ctTemplates.replaceAll('TOOL', 'agent')}`,
  );

  const tools = [
    { name: 'secrets-sidecar run', command: process.execPath, args: [CLI, 'run', '-c', join(root, 'sidecar.hcl')], signal: 'SIGTERM' },
    // consul-template's kill_signal is SIGINT; it ignores SIGTERM by default.
    ...(existsSync(CONSUL_TEMPLATE)
      ? [{ name: 'consul-template v0.42.1', command: CONSUL_TEMPLATE, args: ['-config', join(root, 'ct.hcl')], signal: 'SIGINT' }]
      : []),
    { name: 'bao agent 2.7.2', command: BAO, args: ['agent', '-config', join(root, 'agent.hcl')], signal: 'SIGTERM' },
  ];
  console.log(
    `run against OpenBao + PostgreSQL on loopback for ${SECONDS} s: ${TEMPLATES} templates, ${TEMPLATES} database leases (TTL 30 s, max 120 s), ${TEMPLATES * KV_PER_TEMPLATE} KV v2 secrets`,
  );
  const results = [];
  for (const tool of tools) {
    const before = bao.auditCount();
    const run = measure(tool.command, tool.args, { seconds: SECONDS, signal: tool.signal });
    const paths = bao.auditPaths(before);
    // Leases left by a tool are revoked so that the next starts from the same state.
    await bao.api('PUT', 'sys/leases/revoke-prefix/database/creds').catch((error) => console.error(`revoking ${tool.name}'s leases: ${error.message}`));
    results.push({
      tool,
      run,
      requests: paths.length,
      renewals: paths.filter((p) => p === 'sys/leases/renew' || p === 'sys/renew').length,
      reads: paths.filter((p) => p.startsWith('database/creds/')).length,
    });
  }
  for (const { tool, run, requests, renewals, reads } of results) {
    console.log(
      `${tool.name.padEnd(24)} ${run.cpuS.toFixed(2).padStart(6)} CPU-s ${run.maxRssMiB.toFixed(0).padStart(5)} MiB ${String(requests).padStart(6)} requests (${renewals} renewals, ${reads} credential reads)  exit ${run.code}`,
    );
  }
  const ours = results[0];
  const lowestPeerCpu = Math.min(...results.slice(1).map((r) => r.run.cpuS));
  console.log(
    `secrets-sidecar CPU / lowest peer CPU = ${(ours.run.cpuS / lowestPeerCpu).toFixed(2)}x (target <= 1.0x); requests ${ours.requests} (target <= 430); peak RSS ${ours.run.maxRssMiB.toFixed(0)} MiB (target <= 64)`,
  );
} finally {
  bao.stop();
  pg.stop();
  rmSync(root, { recursive: true, force: true });
  rmSync(support, { recursive: true, force: true });
}
