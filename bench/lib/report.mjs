// bench.mjs's results as the README's Markdown tables, and each target of ../shared/TARGETS.md as met or not.
const ms = (v) => `${Math.round(v)} ms`;
const mib = (v) => `${Math.round(v)} MiB`;
const cpu = (v) => `${v.toFixed(2)} CPU-s`;
const x = (v) => `${v.toFixed(2)}×`;
const count = (v) => v.toLocaleString('en-US');

const TOOLS = [
  ['sidecar', 'secrets-sidecar'],
  ['ct', 'consul-template 0.42.1'],
  ['agent', 'bao agent 2.7.2'],
];

export function readmeTables(results, p3) {
  const out = [];
  if (results.P1 || results.P2) {
    out.push(`\`once\`, median of ${results.runs} interleaved runs (${results.node}):`, '');
    out.push(`| workload | ${TOOLS.map(([, name]) => name).join(' | ')} | \`node -e 0\` |`, `|---|---|---|---|---|`);
    const cell = (r) => `${ms(r.wallMs)}, ${cpu(r.cpuS)}, ${mib(r.peakRssMiB)}, ${count(r.requests)} requests`;
    for (const [key, label] of [
      ['P1', 'P1: 1 template, 1 secret'],
      ['P2', 'P2: 200 templates, 1,000 refs, 500 secrets'],
    ]) {
      const r = results[key];
      if (r) out.push(`| ${label} | ${TOOLS.map(([k]) => cell(r[k])).join(' | ')} | ${ms(r.node.wallMs)}, ${mib(r.node.peakRssMiB)} |`);
    }
    out.push('');
  }
  if (results.RUN) {
    out.push(`\`run\` on P2's workload, RSS ${results.settle} s after the first full render:`, '');
    out.push(`| | ${TOOLS.map(([, name]) => name).join(' | ')} |`, '|---|---|---|---|');
    out.push(`| first full render | ${TOOLS.map(([k]) => ms(results.RUN[k].firstRenderMs)).join(' | ')} |`);
    out.push(`| steady RSS (peak) | ${TOOLS.map(([k]) => `${mib(results.RUN[k].steadyRssMiB)} (${mib(results.RUN[k].peakRssMiB)})`).join(' | ')} |`);
    out.push('');
  }
  if (results.P3) {
    out.push(
      `P3: \`run\` for ${results.p3Seconds} s, ${p3.templates} database leases (TTL ${p3.ttl}, max ${p3.maxTtl}) + ${p3.templates * p3.kvPerTemplate} KV v2 in ${p3.templates} templates:`,
      '',
    );
    out.push('| | CPU | RSS at the end (peak) | requests (renewals, credential reads) |', '|---|---|---|---|');
    for (const [k, name] of TOOLS) {
      const r = results.P3[k];
      out.push(`| ${name} | ${cpu(r.cpuS)} | ${mib(r.steadyRssMiB)} (${mib(r.peakRssMiB)}) | ${count(r.requests)} (${count(r.renewals)}, ${count(r.reads)}) |`);
    }
    out.push('');
  }
  const targets = targetRows(results);
  if (targets.length > 0) {
    out.push('| target | measured | |', '|---|---|---|');
    for (const t of targets) out.push(`| ${t.target} | ${t.measured} | ${t.met ? 'met' : '**not met**'} |`);
  }
  return out.join('\n');
}

export function targetRows(results) {
  const rows = [];
  const { P1, P2, RUN, P3 } = results;
  if (P1) {
    const ratio = P1.sidecar.wallMs / P1.node.wallMs;
    rows.push({ target: 'P1 wall ≤ 1.5× `node -e 0`', measured: x(ratio), met: ratio <= 1.5 });
  }
  if (P2) {
    const ratio = P2.sidecar.wallMs / P2.ct.wallMs;
    rows.push({ target: 'P2 wall ≤ 0.8× consul-template (stretch 0.5×)', measured: x(ratio), met: ratio <= 0.8 });
    rows.push({ target: 'P2 peak RSS ≤ 64 MiB', measured: mib(P2.sidecar.peakRssMiB), met: P2.sidecar.peakRssMiB <= 64 });
  }
  if (RUN)
    rows.push({
      target: `\`run\` on P2, RSS ${results.settle} s after the first render ≤ 64 MiB`,
      measured: mib(RUN.sidecar.steadyRssMiB),
      met: RUN.sidecar.steadyRssMiB <= 64,
    });
  if (P3) {
    const lower = Math.min(P3.ct.cpuS, P3.agent.cpuS);
    rows.push({ target: 'P3 steady RSS ≤ 50 MiB', measured: mib(P3.sidecar.steadyRssMiB), met: P3.sidecar.steadyRssMiB <= 50 });
    rows.push({ target: 'P3 CPU ≤ 0.6× the lower peer', measured: x(P3.sidecar.cpuS / lower), met: P3.sidecar.cpuS / lower <= 0.6 });
    const full = results.p3Seconds === 300;
    rows.push({
      target: 'P3 requests ≤ 430 (in 300 s)',
      measured: `${count(P3.sidecar.requests)}${full ? '' : ` in ${results.p3Seconds} s`}`,
      met: full && P3.sidecar.requests <= 430,
    });
  }
  return rows;
}
