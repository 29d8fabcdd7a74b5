import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './dirs.js';

export const CLI = join(REPO_ROOT, 'dist', 'cli', 'main.js');

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  // A clean environment: the sidecar must not depend on the test runner's variables.
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...extra };
}

/** Runs the built CLI to completion, as a user would. */
export function runCli(args: readonly string[], options: { env?: Record<string, string>; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: options.cwd ?? REPO_ROOT, env: childEnv(options.env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

export interface LogRecord {
  readonly level: string;
  readonly msg: string;
  readonly [key: string]: unknown;
}

/** A `run` daemon under test: its JSON log lines, parsed as they arrive, and a way to wait for one. */
export class Daemon {
  readonly child: ChildProcess;
  readonly records: LogRecord[] = [];
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** JSON lines the daemon's stdout carried (a supervised child's output, with stdio inherited). */
  readonly output: Record<string, unknown>[] = [];
  #outputWaiters: { predicate: (r: Record<string, unknown>) => boolean; resolve: (r: Record<string, unknown>) => void; from: number }[] = [];
  #outputPartial = '';
  #waiters: { predicate: (r: LogRecord) => boolean; resolve: (r: LogRecord) => void; from: number }[] = [];
  #partial = '';

  constructor(args: readonly string[], options: { env?: Record<string, string> } = {}) {
    this.child = spawn(process.execPath, [CLI, 'run', ...args], { cwd: REPO_ROOT, env: childEnv(options.env), stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout?.on('data', (chunk: Buffer) => this.#onStdout(chunk.toString()));
    this.child.stderr?.on('data', (chunk: Buffer) => this.#onStderr(chunk.toString()));
    this.exited = new Promise((resolve) => this.child.on('close', (code, signal) => resolve({ code, signal })));
  }

  /** Resolves with the first record (at or after index `from`) matching the predicate; rejects if the process exits first. */
  waitFor(predicate: (r: LogRecord) => boolean, from = 0): Promise<LogRecord> {
    const found = this.records.slice(from).find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      this.#waiters.push({ predicate, resolve, from });
      void this.exited.then(({ code, signal }) => reject(new Error(`daemon exited (code ${code}, signal ${signal}) before the awaited log line; stderr:\n${this.stderr}`)));
    });
  }

  /** Resolves with the first stdout JSON line (at or after index `from`) matching the predicate. */
  waitForOutput(predicate: (r: Record<string, unknown>) => boolean, from = 0): Promise<Record<string, unknown>> {
    const found = this.output.slice(from).find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      this.#outputWaiters.push({ predicate, resolve, from });
      void this.exited.then(({ code, signal }) => reject(new Error(`daemon exited (code ${code}, signal ${signal}) before the awaited output; stderr:\n${this.stderr.slice(-3000)}`)));
    });
  }

  #onStdout(text: string): void {
    this.stdout += text;
    this.#outputPartial += text;
    const lines = this.#outputPartial.split('\n');
    this.#outputPartial = lines.pop() ?? '';
    for (const line of lines) {
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      this.output.push(record);
      const index = this.output.length - 1;
      this.#outputWaiters = this.#outputWaiters.filter((w) => (index >= w.from && w.predicate(record) ? (w.resolve(record), false) : true));
    }
  }

  /** How many records so far match; pass as `from` to wait only for later lines. */
  get mark(): number {
    return this.records.length;
  }

  count(predicate: (r: LogRecord) => boolean, from = 0): number {
    return this.records.slice(from).filter(predicate).length;
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    return this.exited;
  }

  #onStderr(text: string): void {
    this.stderr += text;
    this.#partial += text;
    const lines = this.#partial.split('\n');
    this.#partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.trim()) continue;
      let record: LogRecord;
      try {
        record = JSON.parse(line) as LogRecord;
      } catch {
        continue;
      }
      this.records.push(record);
      const index = this.records.length - 1;
      this.#waiters = this.#waiters.filter((w) => {
        if (index >= w.from && w.predicate(record)) {
          w.resolve(record);
          return false;
        }
        return true;
      });
    }
  }
}
