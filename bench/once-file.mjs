// Benchmark: `once` with 200 templates, 1,000 secret references, 500 unique secrets, file backend.
// Prints median wall time, CPU time and peak RSS over RUNS runs, the ratio to `node -e 0` measured in the same
// run, and the number of backend reads (from the audit log), which must equal the number of unique secrets.
//   npm run bench            (RUNS=9 by default; BENCH_RUNS=N to change)
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { measure, median } from './lib/measure.mjs';

const TEMPLATES = 200;
const REFS_PER_TEMPLATE = 5;
const UNIQUE = 500;
const RUNS = Number(process.env.BENCH_RUNS ?? 9);
const CLI = new URL('../dist/cli/main.js', import.meta.url).pathname;

const root = mkdtempSync('/dev/shm/sidecar-bench-');
const keep = process.env.BENCH_KEEP === '1';
try {
  const secrets = {};
  for (let i = 0; i < UNIQUE; i++) secrets[`svc${i}`] = { username: `user${i}`, password: `bench-pw-${i}-${'x'.repeat(24)}` };
  writeFileSync(join(root, 'secrets.json'), JSON.stringify(secrets));
  mkdirSync(join(root, 'templates'));
  let config = 'log_level = "info"\nbackend "file" "local" {\n  path = "secrets.json"\n}\n';
  for (let t = 0; t < TEMPLATES; t++) {
    const lines = [];
    for (let r = 0; r < REFS_PER_TEMPLATE; r++) {
      const n = (t * REFS_PER_TEMPLATE + r) % UNIQUE; // every secret is referenced exactly twice
      lines.push(`S${r}_PASSWORD={{secret "local:svc${n}#password"}}`);
    }
    const body = lines.join('\n') + '\n';
    writeFileSync(join(root, 'templates', `t${t}.hbs`), body);
    config += `template {\n  source = "templates/t${t}.hbs"\n  destination = "${root}/out/t${t}.env"\n}\n`;
  }
  writeFileSync(join(root, 'sidecar.hcl'), config);

  const baseline = [];
  const ours = [];
  let reads;
  for (let i = 0; i < RUNS; i++) {
    baseline.push(measure(process.execPath, ['-e', '0']));
    rmSync(join(root, 'out'), { recursive: true, force: true }); // every run writes all 200 files
    const run = measure(process.execPath, [CLI, 'once', '-c', join(root, 'sidecar.hcl')]);
    if (run.code !== 0) throw new Error(`once exited ${run.code}:\n${run.stderr.slice(-2000)}`);
    reads = run.stderr.split('\n').filter((l) => l.includes('"event":"secret.fetch"')).length;
    ours.push(run);
  }
  const wall = median(ours.map((r) => r.wallS));
  const nodeWall = median(baseline.map((r) => r.wallS));
  const row = (name, rs) =>
    `${name.padEnd(34)} ${(median(rs.map((r) => r.wallS)) * 1000).toFixed(0).padStart(7)} ms ${median(rs.map((r) => r.cpuS))
      .toFixed(3)
      .padStart(7)} CPU-s ${Math.max(...rs.map((r) => r.maxRssMiB))
      .toFixed(1)
      .padStart(6)} MiB`;
  console.log(`once, file backend: ${TEMPLATES} templates, ${TEMPLATES * REFS_PER_TEMPLATE} references, ${UNIQUE} unique secrets; median of ${RUNS} runs`);
  console.log(row('node -e 0 (same run)', baseline));
  console.log(row('secrets-sidecar once', ours));
  console.log(`wall ratio to node -e 0: ${(wall / nodeWall).toFixed(2)}x`);
  console.log(`backend reads: ${reads} (unique secrets: ${UNIQUE})`);
  if (reads !== UNIQUE) {
    console.error(`FAIL: backend reads (${reads}) must equal the unique secrets (${UNIQUE})`);
    process.exitCode = 1;
  }
} finally {
  if (keep) console.log(`kept ${root}`);
  else rmSync(root, { recursive: true, force: true });
}
