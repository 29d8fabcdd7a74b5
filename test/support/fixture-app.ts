import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './dirs.js';
import { JsonLines } from './json-lines.js';

export interface SignalRecord {
  readonly signal: string;
  readonly files?: Record<string, string | null>;
}

/** Runs test/fixtures/signal-recorder.mjs and hands out the signals it reports, as they arrive. */
export class RecorderApp {
  readonly child: ChildProcess;
  readonly ready: Promise<number>;
  readonly exited: Promise<number | null>;
  readonly #lines: JsonLines<{ ready?: number } & Partial<SignalRecord>>;

  constructor(args: readonly string[]) {
    this.child = spawn(process.execPath, [join(REPO_ROOT, 'test/fixtures/signal-recorder.mjs'), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.exited = new Promise((resolve) => this.child.on('close', (code) => resolve(code)));
    this.#lines = new JsonLines(this.exited, () => `the app exited after ${this.signals.length} signals`);
    this.child.stdout?.on('data', (chunk: Buffer) => this.#lines.feed(chunk.toString()));
    this.ready = this.#lines.waitFor((r) => r.ready !== undefined).then((r) => r.ready ?? -1);
  }

  /** Signals recorded so far, in order. */
  get signals(): SignalRecord[] {
    return this.#lines.records.filter((r): r is SignalRecord => r.signal !== undefined);
  }

  /** Resolves once `count` signals have been recorded in all. */
  async waitForSignals(count: number): Promise<void> {
    await this.#lines.waitFor((r) => r.signal !== undefined && this.signals.length >= count);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    await this.exited;
  }
}
