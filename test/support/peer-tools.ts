import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './dirs.js';

/** consul-template v0.42.1, built from its Go module by test/infra/install-test-tools.sh. */
export const CONSUL_TEMPLATE = join(REPO_ROOT, '.cache', 'bin', 'consul-template');
/** OpenBao's CLI, whose `agent` is Vault Agent's fork. */
export const BAO_AGENT = join(REPO_ROOT, '.cache', 'bin', 'bao');

export interface PeerRun {
  readonly code: number | null;
  readonly output: string;
}

/**
 * Runs a peer tool to completion in `cwd` with only `env` (and PATH/HOME), killed after `timeoutMs`: a peer that
 * keeps retrying must not hang the suite. The peer's own output is not the canary's business.
 */
export function runPeer(program: string, args: readonly string[], options: { cwd: string; env: Record<string, string>; timeoutMs: number }): Promise<PeerRun> {
  if (!existsSync(program)) throw new Error(`${program} is not installed: run test/infra/install-test-tools.sh`);
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, {
      cwd: options.cwd,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}
