import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './dirs.js';
import { existsSync, readFileSync } from 'node:fs';
import { recordAuditFile, recordChildEnvironment, recordCommandLine, recordShown, registerSidecarCredentials } from './canary.js';
import { JsonLines } from './json-lines.js';

export const CLI = join(REPO_ROOT, 'dist', 'cli', 'main.js');

/**
 * node's arguments for the CLI with `args`: the bin, or the start-up snapshot as the image starts it (its V8
 * flags, the blob, "--"); SIDECAR_TEST_SNAPSHOT=1 makes the snapshot the default, so the suite can run on either.
 */
export function cliArgv(args: readonly string[], snapshot = process.env['SIDECAR_TEST_SNAPSHOT'] === '1'): string[] {
  if (!snapshot) return [CLI, ...args];
  const flags = JSON.parse(readFileSync(join(REPO_ROOT, 'scripts', 'node-flags.json'), 'utf8')) as string[];
  return [...flags, '--snapshot-blob', join(REPO_ROOT, 'dist', 'snapshot', 'sidecar.blob'), '--', ...args];
}

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The text of the config a command line names (-c FILE), for the canary's look at audit files and credentials. */
function configTextOf(args: readonly string[]): string {
  const at = args.indexOf('-c');
  const file = at === -1 ? undefined : args[at + 1];
  try {
    return file && existsSync(file) ? readFileSync(file, 'utf8') : '';
  } catch {
    return '';
  }
}

function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  // A clean environment: the sidecar must not depend on the test runner's variables.
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...extra };
}

/** Runs the built CLI to completion, as a user would. */
export function runCli(args: readonly string[], options: { env?: Record<string, string>; cwd?: string; snapshot?: boolean } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    registerSidecarCredentials(options.env ?? {}, configTextOf(args));
    const child = spawn(process.execPath, cliArgv(args, options.snapshot), {
      cwd: options.cwd ?? REPO_ROOT,
      env: childEnv(options.env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      // --show-secrets prints values to stdout because the user asked for them.
      if (!args.includes('--show-secrets')) recordShown(`secrets-sidecar ${args[0] ?? ''} stdout`, stdout);
      recordShown(`secrets-sidecar ${args[0] ?? ''} stderr`, stderr);
      recordAuditFile(configTextOf(args));
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export interface LogRecord {
  readonly level: string;
  readonly msg: string;
  readonly [key: string]: unknown;
}

/** A `run` daemon under test: its JSON log lines (stderr) and a supervised child's JSON output (stdout). */
export class Daemon {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly #logs: JsonLines<LogRecord>;
  readonly #output: JsonLines;
  #onChildStarted: ((pid: number) => void) | undefined;

  constructor(args: readonly string[], options: { env?: Record<string, string>; snapshot?: boolean | undefined } = {}) {
    registerSidecarCredentials(options.env ?? {}, configTextOf(args));
    this.child = spawn(process.execPath, cliArgv(['run', ...args], options.snapshot), {
      cwd: REPO_ROOT,
      env: childEnv(options.env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.exited = new Promise((resolve) =>
      this.child.on('close', (code, signal) => {
        // Not stdout: in `run` it carries the supervised child's own output (an app may print what it reads).
        recordShown('secrets-sidecar run stderr', this.stderr);
        recordAuditFile(configTextOf(args));
        resolve({ code, signal });
      }),
    );
    const describeEnd = () =>
      `daemon exited (code ${this.child.exitCode}, signal ${this.child.signalCode}) before the awaited line; stderr:\n${this.stderr.slice(-3000)}`;
    this.#logs = new JsonLines<LogRecord>(this.exited, describeEnd);
    this.#output = new JsonLines(this.exited, describeEnd);
    this.child.stdout?.on('data', (chunk: Buffer) => {
      this.stdout += chunk.toString();
      this.#output.feed(chunk.toString());
    });
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
      const from = this.#logs.records.length;
      this.#logs.feed(chunk.toString());
      for (const record of this.#logs.records.slice(from)) if (record.msg === 'child started') this.#onChildStarted?.(Number(record['pid']));
    });
    // What `ps` shows of the daemon once it runs: its argv and process title.
    void this.waitFor((r) => r.msg === 'started').then(
      () => recordCommandLine(this.child.pid, 'secrets-sidecar run'),
      () => undefined,
    );
    // Each supervised child's environment, as the canary sees it.
    const configFile = args[args.indexOf('-c') + 1];
    this.#onChildStarted = (pid) => recordChildEnvironment(pid, configFile && existsSync(configFile) ? readFileSync(configFile, 'utf8') : '');
  }

  /** Log records so far. */
  get records(): readonly LogRecord[] {
    return this.#logs.records;
  }

  /** JSON lines the daemon's stdout carried (a supervised child's output, with stdio inherited). */
  get output(): readonly Record<string, unknown>[] {
    return this.#output.records;
  }

  /** The first log record (at or after index `from`) matching the predicate; rejects if the process exits first. */
  waitFor(predicate: (r: LogRecord) => boolean, from = 0): Promise<LogRecord> {
    return this.#logs.waitFor(predicate, from);
  }

  /** The first stdout JSON line (at or after index `from`) matching the predicate. */
  waitForOutput(predicate: (r: Record<string, unknown>) => boolean, from = 0): Promise<Record<string, unknown>> {
    return this.#output.waitFor(predicate, from);
  }

  /** How many log records so far; pass as `from` to wait only for later lines. */
  get mark(): number {
    return this.#logs.records.length;
  }

  count(predicate: (r: LogRecord) => boolean, from = 0): number {
    return this.#logs.count(predicate, from);
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    return this.exited;
  }
}
