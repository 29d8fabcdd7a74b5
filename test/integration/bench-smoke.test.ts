import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/dirs.js';

/** `npm run bench`'s script, one iteration of every workload: so that the benchmarks cannot rot. No timing is checked. */
function runBench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(REPO_ROOT, 'bench', 'bench.mjs'), ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('bench smoke', () => {
  it('runs P1, P2, the steady run and P3 against both peers once, and prints every table and target', { timeout: 600_000 }, async () => {
    const readmeBefore = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
    const { code, stdout, stderr } = await runBench(['--smoke']);
    expect(code, stderr.slice(-3000)).toBe(0);
    const results = JSON.parse(stdout.split('\n')[0] ?? '') as Record<string, Record<string, Record<string, number>>>;
    for (const workload of ['P1', 'P2', 'RUN', 'P3']) expect(Object.keys(results[workload] ?? {})).toEqual(expect.arrayContaining(['sidecar', 'ct', 'agent']));
    // Every tool rendered and was counted: the audit log saw each one's reads.
    for (const tool of ['sidecar', 'ct', 'agent']) {
      expect(results['P1']?.[tool]?.['requests']).toBeGreaterThanOrEqual(2);
      expect(results['P2']?.[tool]?.['requests']).toBeGreaterThanOrEqual(501);
      expect(results['P3']?.[tool]?.['reads']).toBe(20);
    }
    for (const row of ['| P1: 1 template, 1 secret |', '| P2: 200 templates', '| steady RSS (peak) |', '| consul-template 0.42.1 |', '| P3 requests ≤ 430']) {
      expect(stdout).toContain(row);
    }
    // A smoke run never rewrites the README, and no value the benchmark stored is printed.
    expect(readFileSync(join(REPO_ROOT, 'README.md'), 'utf8')).toBe(readmeBefore);
    expect(stdout + stderr).not.toMatch(/bench-(pw|kv)-\d/);
  });

  it('refuses an unknown workload instead of printing a shorter table', async () => {
    const { code, stderr } = await runBench(['--only', 'P1,P9']);
    expect(code).not.toBe(0);
    expect(stderr).toContain('--only: unknown workload P9');
  });
});
