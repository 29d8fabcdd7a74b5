// Benchmarks P1 and P2 (../shared/TARGETS.md): `once` with 1 template and 1 KV v2 secret, and with 200 templates,
// 1,000 references to 500 unique KV v2 secrets, against one OpenBao dev server on loopback, secrets-sidecar beside consul-template -once and bao agent
// (exit_after_auth) in the same run. Prints median wall, CPU and peak RSS, each one's request count from the
// server's audit log, and the ratios. consul-template is built with:
//   GOBIN=$PWD/.cache/bin go install github.com/hashicorp/consul-template@v0.42.1
//   BENCH_RUNS=5 node bench/once-vault.mjs          (npm run build first)
// BENCH_WORKLOAD=P1 or P2 runs one of them; BENCH_NODE_ARGS="--cpu-prof" passes flags to secrets-sidecar's node;
// BENCH_MAXCONN sets its max_connections (default 10).
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { measure, median } from './lib/measure.mjs';
import { startOpenBao } from './lib/openbao.mjs';

const WORKLOADS = {
  P1: { templates: 1, refsPerTemplate: 1, unique: 1 },
  P2: { templates: 200, refsPerTemplate: 5, unique: 500 },
};
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const CLI = new URL('../dist/cli/main.js', import.meta.url).pathname;
const CONSUL_TEMPLATE = new URL('../.cache/bin/consul-template', import.meta.url).pathname;
const BAO = new URL('../.cache/bin/bao', import.meta.url).pathname;

const bao = await startOpenBao();
try {
  for (const [name, workload] of Object.entries(WORKLOADS)) {
    if (process.env.BENCH_WORKLOAD && process.env.BENCH_WORKLOAD !== name) continue;
    await runWorkload(name, workload);
  }
} finally {
  bao.stop();
}

async function runWorkload(name, workload) {
  const root = mkdtempSync('/dev/shm/sidecar-bench-vault-');
  try {
    const { templates: TEMPLATES, refsPerTemplate: REFS_PER_TEMPLATE, unique: UNIQUE } = workload;
    for (let start = 0; start < UNIQUE; start += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, UNIQUE - start) }, (_, i) =>
          bao.api('POST', `secret/data/svc${start + i}`, { data: { username: `user${start + i}`, password: `bench-pw-${start + i}` } }),
        ),
      );
    }
    writeFileSync(join(root, 'token'), bao.rootToken);
    const refs = (t) => Array.from({ length: REFS_PER_TEMPLATE }, (_, r) => (t * REFS_PER_TEMPLATE + r) % UNIQUE);
    for (const tool of ['sidecar', 'ct']) mkdirSync(join(root, tool, 'templates'), { recursive: true });
    let sidecar = `backend "vault" "main" {\n  address = "${bao.address}"\n  max_connections = ${process.env.BENCH_MAXCONN ?? 10}\n  auth "token" {\n    token_file = "${join(root, 'token')}"\n  }\n}\n`;
    let ctTemplates = '';
    for (let t = 0; t < TEMPLATES; t++) {
      writeFileSync(
        join(root, 'sidecar', 'templates', `t${t}.hbs`),
        refs(t)
          .map((n, r) => `S${r}={{secret "main:secret/svc${n}#password"}}`)
          .join('\n') + '\n',
      );
      writeFileSync(
        join(root, 'ct', 'templates', `t${t}.tpl`),
        refs(t)
          .map((n, r) => `S${r}={{ with secret "secret/data/svc${n}" }}{{ .Data.data.password }}{{ end }}`)
          .join('\n') + '\n',
      );
      sidecar += `template {\n  source = "templates/t${t}.hbs"\n  destination = "${root}/out-sidecar/t${t}.env"\n}\n`;
      ctTemplates += `template {\n  source = "${root}/ct/templates/t${t}.tpl"\n  destination = "${root}/out-TOOL/t${t}.env"\n}\n`;
    }
    writeFileSync(join(root, 'sidecar', 'sidecar.hcl'), sidecar);
    writeFileSync(
      join(root, 'ct.hcl'),
      `vault {\n  address = "${bao.address}"\n  token = "${bao.rootToken}"\n  renew_token = false\n}\n${ctTemplates.replaceAll('TOOL', 'ct')}`,
    );
    writeFileSync(
      join(root, 'agent.hcl'),
      `vault {\n  address = "${bao.address}"\n}\nauto_auth {\n  method "token_file" {\n    config = {\n      token_file_path = "${join(root, 'token')}"\n    }\n  }\n}\nexit_after_auth = true\ntemplate_config {\n  exit_on_retry_failure = true\n}\n${ctTemplates.replaceAll('TOOL', 'agent')}`,
    );

    const tools = [
      { name: 'node -e 0', command: process.execPath, args: ['-e', '0'] },
      {
        name: 'secrets-sidecar once',
        command: process.execPath,
        args: [...(process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(' ') : []), CLI, 'once', '-c', join(root, 'sidecar', 'sidecar.hcl')],
        out: 'out-sidecar',
      },
      ...(existsSync(CONSUL_TEMPLATE)
        ? [{ name: 'consul-template v0.42.1 -once', command: CONSUL_TEMPLATE, args: ['-config', join(root, 'ct.hcl'), '-once'], out: 'out-ct' }]
        : []),
      { name: 'bao agent 2.7.2 (exit_after_auth)', command: BAO, args: ['agent', '-config', join(root, 'agent.hcl')], out: 'out-agent' },
    ];
    const results = new Map(tools.map((t) => [t.name, []]));
    const requests = new Map();
    for (let i = 0; i < RUNS; i++) {
      for (const tool of tools) {
        if (tool.out) rmSync(join(root, tool.out), { recursive: true, force: true });
        const before = bao.auditCount();
        const run = measure(tool.command, tool.args);
        if (run.code !== 0) throw new Error(`${tool.name} exited ${run.code}:\n${run.stderr.slice(-2000)}`);
        if (tool.out) requests.set(tool.name, bao.auditCount() - before);
        results.get(tool.name).push(run);
      }
    }
    console.log(
      `\n${name}: once against OpenBao on loopback: ${TEMPLATES} templates, ${TEMPLATES * REFS_PER_TEMPLATE} references, ${UNIQUE} unique KV v2 secrets; median of ${RUNS} runs`,
    );
    const ours = median(results.get('secrets-sidecar once').map((r) => r.wallS));
    const baseline = median(results.get('node -e 0').map((r) => r.wallS));
    for (const [name, runs] of results) {
      const wall = median(runs.map((r) => r.wallS));
      const line = `${name.padEnd(36)} ${(wall * 1000).toFixed(0).padStart(6)} ms ${median(runs.map((r) => r.cpuS))
        .toFixed(2)
        .padStart(6)} CPU-s ${Math.max(...runs.map((r) => r.maxRssMiB))
        .toFixed(0)
        .padStart(5)} MiB`;
      const ratio = name.startsWith('node')
        ? ''
        : name.startsWith('secrets-sidecar')
          ? `   this / node -e 0 = ${(ours / baseline).toFixed(2)}x`
          : `   secrets-sidecar / this = ${(ours / wall).toFixed(2)}x`;
      console.log(`${line}${requests.has(name) ? `  ${String(requests.get(name)).padStart(5)} requests` : ''}${ratio}`);
    }
    if (!existsSync(CONSUL_TEMPLATE)) console.log('(consul-template not built: see the comment at the top of this file)');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
