import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const RUSAGE = new URL('./rusage.py', import.meta.url).pathname;

/**
 * Runs a command once under rusage.py: { code, wallS, cpuS, maxRssMiB, finalRssMiB, readyS, stderr }. With
 * `daemon`, the command is stopped with daemon.signal after daemon.seconds; with daemon.readyDir, the seconds
 * count from the moment that directory holds daemon.readyCount files (the first full render).
 */
export function measure(command, args, daemon) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-'));
  try {
    const file = join(dir, 'r.json');
    const stop = daemon ? ['--stop-after', String(daemon.seconds), '--stop-signal', daemon.signal] : [];
    if (daemon?.readyDir) stop.push('--ready-dir', daemon.readyDir, '--ready-count', String(daemon.readyCount));
    const run = spawnSync('python3', [RUSAGE, file, ...stop, '--', command, ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
    if (run.status !== 0) throw new Error(`rusage.py failed (${run.status})`);
    const r = JSON.parse(readFileSync(file, 'utf8'));
    return {
      code: r.code,
      wallS: r.wall_s,
      cpuS: r.cpu_s,
      maxRssMiB: r.max_rss_kib / 1024,
      finalRssMiB: r.final_rss_kib === null ? null : r.final_rss_kib / 1024,
      readyS: r.ready_s,
      stderr: r.stderr,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
