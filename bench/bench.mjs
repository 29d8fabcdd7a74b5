// `npm run bench`: the footprint benchmarks of ../shared/TARGETS.md, secrets-sidecar beside consul-template
// v0.42.1 and `bao agent` 2.7.2 in one run, against one OpenBao dev server (and, for P3, one PostgreSQL) on
// loopback. It installs the peers first (test/infra/install-consul-template.sh; OpenBao with
// install-test-tools.sh) and fails when one is missing, so a table never silently loses a column.
//   P1   `once`, 1 template, 1 KV v2 secret                       median wall, CPU, peak RSS; vs `node -e 0`
//   P2   `once`, 200 templates, 1,000 references, 500 secrets     the same; vs consul-template
//   RUN  `run` on P2's workload: RSS 15 s after the first full render (all 200 files written)
//   P3   `run` for 300 s, 20 database leases (TTL 30 s, max 120 s) + 100 KV v2 in 20 templates: CPU, peak RSS,
//        RSS at the end, requests from the server's audit log
// Flags: --runs N (P1/P2 runs per tool, default 7) · --p3-seconds N (default 300; shorter for a quick look, but
// the requests target is for 300 s) · --settle N (RUN, default 15) · --only P1,P2,RUN,P3 · --smoke (one run of
// everything, P3 for 5 s after its first render: what the test suite runs so that these scripts cannot rot; it
// checks no timings) · --write-readme (replaces the README's tables between the bench markers with this run's).
// Secrets-sidecar is started as the image starts it: this node with the V8 flags of scripts/node-flags.json
// and the start-up snapshot (`npm run build` makes both).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { measure, median } from './lib/measure.mjs';
import { startOpenBao } from './lib/openbao.mjs';
import { KV_WORKLOADS, P3_SHAPE, seedKv, seedP3, writeKvWorkload, writeP3Workload } from './lib/workloads.mjs';
import { readmeTables, targetRows } from './lib/report.mjs';

const { values: flags } = parseArgs({
  options: {
    runs: { type: 'string' },
    'p3-seconds': { type: 'string' },
    settle: { type: 'string' },
    only: { type: 'string' },
    smoke: { type: 'boolean', default: false },
    'write-readme': { type: 'boolean', default: false },
  },
});
const RUNS = Number(flags.runs ?? (flags.smoke ? 1 : 7));
const P3_SECONDS = Number(flags['p3-seconds'] ?? (flags.smoke ? 5 : 300));
const SETTLE = Number(flags.settle ?? (flags.smoke ? 1 : 15));
const ONLY = new Set((flags.only ?? 'P1,P2,RUN,P3').split(','));
for (const [name, value] of [
  ['--runs', RUNS],
  ['--p3-seconds', P3_SECONDS],
  ['--settle', SETTLE],
]) {
  if (!Number.isInteger(value) || value < 1 || value > 3600) throw new Error(`${name} must be a whole number from 1 to 3600`);
}
for (const name of ONLY) if (!['P1', 'P2', 'RUN', 'P3'].includes(name)) throw new Error(`--only: unknown workload ${name}`);

const repo = new URL('../', import.meta.url).pathname;
const BLOB = join(repo, 'dist/snapshot/sidecar.blob');
// As the image's ENTRYPOINT starts it (test/static checks that the two agree).
const SIDECAR = [...JSON.parse(readFileSync(join(repo, 'scripts/node-flags.json'), 'utf8')), '--snapshot-blob', BLOB, '--'];
const CONSUL_TEMPLATE = join(repo, '.cache/bin/consul-template');
const BAO = join(repo, '.cache/bin/bao');

function install(script) {
  const run = spawnSync('bash', [join(repo, 'test/infra', script)], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (run.status !== 0) throw new Error(`test/infra/${script} failed (${run.status ?? run.signal})`);
}
if (!existsSync(BAO)) install('install-test-tools.sh');
install('install-consul-template.sh');
for (const [name, path] of [
  ['secrets-sidecar (npm run build)', BLOB],
  ['consul-template', CONSUL_TEMPLATE],
  ['bao', BAO],
]) {
  if (!existsSync(path)) throw new Error(`${name} is missing at ${path}: no table without every peer`);
}

/** The three tools, in the order they run in each iteration: arguments for `once` and for `run`. */
const TOOLS = [
  {
    key: 'sidecar',
    command: process.execPath,
    once: (root) => [...SIDECAR, 'once', '-c', join(root, 'sidecar.hcl')],
    run: (root) => [...SIDECAR, 'run', '-c', join(root, 'sidecar.hcl')],
    signal: 'SIGTERM',
  },
  // consul-template's kill_signal is SIGINT; it ignores SIGTERM by default.
  {
    key: 'ct',
    command: CONSUL_TEMPLATE,
    once: (root) => ['-config', join(root, 'ct.hcl'), '-once'],
    run: (root) => ['-config', join(root, 'ct.hcl')],
    signal: 'SIGINT',
  },
  {
    key: 'agent',
    command: BAO,
    once: (root) => ['agent', '-config', join(root, 'agent.hcl')],
    run: (root) => ['agent', '-config', join(root, 'agent.hcl')],
    signal: 'SIGTERM',
  },
];

function checked(key, run) {
  if (run.code !== 0) throw new Error(`${key} exited ${run.code}:\n${run.stderr.slice(-2000)}`);
  return run;
}

/** P1 and P2: RUNS interleaved runs of each tool (and of `node -e 0`), medians. */
async function onceWorkload(bao, name) {
  const workload = KV_WORKLOADS[name];
  const root = mkdtempSync('/dev/shm/sidecar-bench-once-');
  try {
    await seedKv(bao, workload);
    writeKvWorkload(root, bao, workload, { once: true });
    const runs = { node: [], sidecar: [], ct: [], agent: [] };
    const requests = {};
    for (let i = 0; i < RUNS; i++) {
      runs.node.push(checked('node -e 0', measure(process.execPath, ['-e', '0'])));
      for (const tool of TOOLS) {
        rmSync(join(root, `out-${tool.key}`), { recursive: true, force: true });
        const before = bao.auditCount();
        runs[tool.key].push(checked(tool.key, measure(tool.command, tool.once(root))));
        requests[tool.key] = bao.auditCount() - before;
      }
    }
    const summary = (key) => ({
      wallMs: median(runs[key].map((r) => r.wallS)) * 1000,
      cpuS: median(runs[key].map((r) => r.cpuS)),
      peakRssMiB: Math.max(...runs[key].map((r) => r.maxRssMiB)),
      requests: requests[key],
    });
    return { node: summary('node'), sidecar: summary('sidecar'), ct: summary('ct'), agent: summary('agent') };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** RUN: each tool's `run` on P2's workload, its RSS SETTLE seconds after all 200 files are written. */
async function steadyWorkload(bao) {
  const workload = KV_WORKLOADS.P2;
  const root = mkdtempSync('/dev/shm/sidecar-bench-steady-');
  try {
    await seedKv(bao, workload);
    writeKvWorkload(root, bao, workload, { once: false });
    const result = {};
    for (const tool of TOOLS) {
      const run = measure(tool.command, tool.run(root), {
        seconds: SETTLE,
        signal: tool.signal,
        readyDir: join(root, `out-${tool.key}`),
        readyCount: workload.templates,
      });
      if (run.readyS === null || run.finalRssMiB === null)
        throw new Error(`${tool.key} run never wrote all ${workload.templates} files:\n${run.stderr.slice(-2000)}`);
      result[tool.key] = { firstRenderMs: run.readyS * 1000, steadyRssMiB: run.finalRssMiB, peakRssMiB: run.maxRssMiB, cpuS: run.cpuS };
    }
    return result;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** P3: each tool's `run` for P3_SECONDS on the same servers, one after the other, leases revoked in between. */
async function leaseWorkload(bao) {
  // The test suite's PostgreSQL starter and database engine set-up, bundled for plain Node.
  const support = mkdtempSync(join(tmpdir(), 'bench-support-'));
  const root = mkdtempSync('/dev/shm/sidecar-bench-run-');
  let pg;
  try {
    await build({
      stdin: {
        contents: "export { startPostgres } from './postgres.ts';\nexport { mountDatabaseEngine } from './database-engine.ts';\n",
        resolveDir: join(repo, 'test/support'),
        loader: 'ts',
      },
      bundle: true,
      platform: 'node',
      format: 'esm',
      outfile: join(support, 'support.mjs'),
      logLevel: 'error',
    });
    const { startPostgres, mountDatabaseEngine } = await import(join(support, 'support.mjs'));
    pg = await startPostgres();
    await seedP3(bao, pg, mountDatabaseEngine);
    writeP3Workload(root, bao);
    const result = {};
    for (const tool of TOOLS) {
      const before = bao.auditCount();
      // A smoke run counts its seconds from the first full render, so that a loaded machine still sees every
      // tool read all its credentials; a real one from the start, as P3 is defined.
      const ready = flags.smoke ? { readyDir: join(root, `out-${tool.key}`), readyCount: P3_SHAPE.templates } : {};
      const run = measure(tool.command, tool.run(root), { seconds: P3_SECONDS, signal: tool.signal, ...ready });
      if (run.finalRssMiB === null) throw new Error(`${tool.key} ended before ${P3_SECONDS} s (exit ${run.code}):\n${run.stderr.slice(-2000)}`);
      const paths = bao.auditPaths(before);
      await bao.api('PUT', 'sys/leases/revoke-prefix/database/creds');
      const other = {};
      for (const p of paths) {
        const kind = p === 'sys/leases/renew' || p === 'sys/renew' ? null : p.startsWith('database/creds/') ? null : p.replace(/\d+$/, 'N');
        if (kind) other[kind] = (other[kind] ?? 0) + 1;
      }
      result[tool.key] = {
        cpuS: run.cpuS,
        peakRssMiB: run.maxRssMiB,
        steadyRssMiB: run.finalRssMiB,
        requests: paths.length,
        renewals: paths.filter((p) => p === 'sys/leases/renew' || p === 'sys/renew').length,
        reads: paths.filter((p) => p.startsWith('database/creds/')).length,
        other,
      };
    }
    return result;
  } finally {
    pg?.stop();
    rmSync(root, { recursive: true, force: true });
    rmSync(support, { recursive: true, force: true });
  }
}

const bao = await startOpenBao();
const results = { runs: RUNS, p3Seconds: P3_SECONDS, settle: SETTLE, node: process.version };
try {
  // Each workload's figures on stderr as soon as they are in, so a failure later does not lose them.
  const record = (name, value) => {
    results[name] = value;
    process.stderr.write(`${name}: ${JSON.stringify(value)}\n`);
  };
  if (ONLY.has('P1')) record('P1', await onceWorkload(bao, 'P1'));
  if (ONLY.has('P2')) record('P2', await onceWorkload(bao, 'P2'));
  if (ONLY.has('RUN')) record('RUN', await steadyWorkload(bao));
  if (ONLY.has('P3')) record('P3', await leaseWorkload(bao));
} finally {
  bao.stop();
}

console.log(JSON.stringify(results));
const tables = readmeTables(results, P3_SHAPE);
console.log(`\n${tables}`);
console.log(
  `\n${targetRows(results)
    .map((r) => `${r.met ? 'met    ' : 'NOT MET'}  ${r.target}: ${r.measured}`)
    .join('\n')}`,
);
if (flags['write-readme']) {
  const readme = join(repo, 'README.md');
  const text = readFileSync(readme, 'utf8');
  const begin = '<!-- bench:begin (npm run bench -- --write-readme) -->\n';
  const end = '<!-- bench:end -->';
  if (!text.includes(begin) || !text.includes(end)) throw new Error('README.md has no bench markers');
  writeFileSync(readme, text.slice(0, text.indexOf(begin) + begin.length) + tables + '\n' + text.slice(text.indexOf(end)));
  console.log('README.md: benchmark tables rewritten');
}
