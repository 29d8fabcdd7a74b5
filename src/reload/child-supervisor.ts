import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import type { ExecConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import { setSafeTimeout, type SafeTimer } from '../timer.js';

export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface ChildSupervisorOptions {
  readonly exec: ExecConfig;
  /** Computed at each start, so a restart picks up new env_template values. */
  readonly environment: () => Record<string, string>;
  readonly logger: Logger;
  readonly random: () => number;
}

/** Restarts after a failure back off from this, doubling to the maximum; a run this long resets the backoff. */
const RESTART_BACKOFF_MS = 1_000;
const RESTART_BACKOFF_MAX_MS = 30_000;
const STABLE_RUN_MS = 10_000;

/** The exit status a shell would report: the code, or 128 + the signal's number. */
export function exitStatus(exit: ChildExit): number {
  if (exit.code !== null) return exit.code;
  return 128 + (exit.signal ? (constants.signals[exit.signal] ?? 0) : 0);
}

/**
 * Runs the application as a child (consul-template's exec mode): reloads it with a signal after a random splay,
 * or restarts it; stops it with kill_signal, then SIGKILL to its whole process group after kill_timeout;
 * forwards signals; restarts it on failure when asked. `finished` resolves when the child exits on its own and
 * will not be restarted: the sidecar then exits with the child's status.
 */
export class ChildSupervisor {
  #child: ChildProcess | undefined;
  #childExit: Promise<ChildExit> | undefined;
  #startedAt = 0;
  #failures = 0;
  #restartTimer: SafeTimer | undefined;
  #stopping = false;
  /** Set while we stop the child ourselves (restart or shutdown), so its exit is not taken as the app's own. */
  #expectingExit = false;
  readonly finished: Promise<ChildExit>;
  #finish!: (exit: ChildExit) => void;

  constructor(private readonly options: ChildSupervisorOptions) {
    this.finished = new Promise((resolve) => (this.#finish = resolve));
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  start(): void {
    if (this.#child || this.#stopping) return;
    const [file, ...args] = this.options.exec.command;
    if (file === undefined) return;
    // Its own process group, so that SIGKILL after kill_timeout reaches the processes the app started too.
    const child = spawn(file, args, { stdio: 'inherit', env: this.options.environment(), detached: true });
    this.#child = child;
    this.#startedAt = Date.now();
    this.#childExit = new Promise<ChildExit>((resolve) => {
      child.once('error', (error: NodeJS.ErrnoException) => {
        this.options.logger.error({ command: file, error: { code: error.code, message: error.message } }, 'cannot start the child');
        resolve({ code: 127, signal: null });
      });
      child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    void this.#childExit.then((exit) => this.#onExit(child, exit));
    this.options.logger.info({ pid: child.pid, command: file }, 'child started');
  }

  /** The files changed: signal the child (after the splay) or, without a reload_signal, restart it. */
  async reload(): Promise<string> {
    const { reloadSignal, splayMs } = this.options.exec;
    if (!this.#child) return 'child not running; nothing to reload';
    if (!reloadSignal) return this.restart();
    if (splayMs > 0) await new Promise((resolve) => setSafeTimeout(() => resolve(undefined), Math.floor(this.options.random() * splayMs)));
    const pid = this.#child?.pid;
    if (pid === undefined) return 'child not running; nothing to reload';
    try {
      process.kill(pid, reloadSignal);
    } catch {
      return 'child exited before the signal';
    }
    return `${reloadSignal} to child ${pid}`;
  }

  /** Stops the child (kill_signal, kill_timeout, SIGKILL) and starts it again with a fresh environment. */
  async restart(): Promise<string> {
    if (!this.#child) return 'child not running; it starts with the new values';
    const old = this.#child.pid;
    await this.#stopChild();
    this.start();
    return `restarted child ${old ?? '?'} as ${this.#child?.pid ?? '?'}`;
  }

  forward(signal: NodeJS.Signals): void {
    const pid = this.#child?.pid;
    if (pid === undefined) return;
    try {
      process.kill(pid, signal);
    } catch {
      // exited meanwhile
    }
  }

  /** Shutdown: stop the child and never start it again. */
  async stop(): Promise<ChildExit | undefined> {
    this.#stopping = true;
    this.#restartTimer?.clear();
    return this.#stopChild();
  }

  async #stopChild(): Promise<ChildExit | undefined> {
    const child = this.#child;
    const exited = this.#childExit;
    if (!child || !exited || child.pid === undefined) return undefined;
    const { killSignal, killTimeoutMs } = this.options.exec;
    this.#expectingExit = true;
    try {
      this.forward(killSignal as NodeJS.Signals);
      let timer: SafeTimer | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => (timer = setSafeTimeout(() => resolve('timeout'), killTimeoutMs)));
      const first = await Promise.race([exited, timedOut]);
      timer?.clear();
      if (first === 'timeout') {
        this.options.logger.warn({ pid: child.pid, killSignal, killTimeoutMs }, 'child did not stop in time; sending SIGKILL');
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // the group is gone
        }
      }
      const exit = await exited;
      this.options.logger.info({ pid: child.pid, code: exit.code, signal: exit.signal }, 'child stopped');
      return exit;
    } finally {
      this.#expectingExit = false;
    }
  }

  #onExit(child: ChildProcess, exit: ChildExit): void {
    if (this.#child === child) this.#child = undefined;
    if (this.#expectingExit || this.#stopping) return;
    const { logger, exec } = this.options;
    logger.info({ pid: child.pid, code: exit.code, signal: exit.signal }, 'child exited');
    if (exec.restart === 'on-failure' && exitStatus(exit) !== 0) {
      this.#failures = Date.now() - this.#startedAt >= STABLE_RUN_MS ? 1 : this.#failures + 1;
      const delay = Math.min(RESTART_BACKOFF_MAX_MS, RESTART_BACKOFF_MS * 2 ** (this.#failures - 1));
      logger.warn({ status: exitStatus(exit), restartInMs: delay }, 'child failed; restarting (restart = "on-failure")');
      this.#restartTimer = setSafeTimeout(() => this.start(), delay);
      return;
    }
    this.#finish(exit);
  }
}
