import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './dirs.js';

export interface SignalRecord {
  readonly signal: string;
  readonly files?: Record<string, string | null>;
}

/** Runs test/fixtures/signal-recorder.mjs and hands out the signals it reports, as they arrive. */
export class RecorderApp {
  readonly child: ChildProcess;
  readonly signals: SignalRecord[] = [];
  readonly ready: Promise<number>;
  readonly exited: Promise<number | null>;
  #waiters: { count: number; resolve: () => void }[] = [];
  #partial = '';

  constructor(args: readonly string[]) {
    this.child = spawn(process.execPath, [join(REPO_ROOT, 'test/fixtures/signal-recorder.mjs'), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let markReady!: (pid: number) => void;
    this.ready = new Promise((resolve) => (markReady = resolve));
    this.exited = new Promise((resolve) => this.child.on('close', (code) => resolve(code)));
    this.child.stdout?.on('data', (chunk: Buffer) => {
      this.#partial += chunk.toString();
      const lines = this.#partial.split('\n');
      this.#partial = lines.pop() ?? '';
      for (const line of lines.filter(Boolean)) {
        const parsed = JSON.parse(line) as { ready?: number } & SignalRecord;
        if (parsed.ready !== undefined) markReady(parsed.ready);
        else this.signals.push(parsed);
      }
      this.#waiters = this.#waiters.filter((w) => (this.signals.length >= w.count ? (w.resolve(), false) : true));
    });
  }

  /** Resolves once `count` signals have been recorded in all. */
  waitForSignals(count: number): Promise<void> {
    if (this.signals.length >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#waiters.push({ count, resolve });
      void this.exited.then(() => reject(new Error(`the app exited after ${this.signals.length} of ${count} signals`)));
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    await this.exited;
  }
}
