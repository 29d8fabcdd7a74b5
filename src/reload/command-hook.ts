import { spawn } from 'node:child_process';
import { SidecarError } from '../errors.js';
import { setSafeTimeout, type SafeTimer } from '../timer.js';

/** How long a command gets between the polite signal and SIGKILL, after its timeout. */
export const COMMAND_KILL_GRACE_MS = 2_000;

/**
 * The only variables a hook command inherits: enough to find and run a program, none of the sidecar's own
 * credentials (tokens, cloud keys).
 */
export const COMMAND_ENV_NAMES: readonly string[] = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'USER'];

export function commandEnvironment(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const name of COMMAND_ENV_NAMES) {
    const value = env[name];
    if (value !== undefined) picked[name] = value;
  }
  return picked;
}

/**
 * Runs a reload command (no shell) in its own process group; past the timeout the whole group gets SIGTERM,
 * then SIGKILL. Output is discarded: a command that prints configuration must not put it in our logs.
 */
export function runCommandHook(command: readonly string[], timeoutMs: number, env: Record<string, string>, what: string): Promise<void> {
  const [file, ...args] = command;
  if (file === undefined) return Promise.reject(new SidecarError('SIDECAR_ERR_RELOAD_FAILED', `${what}: empty command`));
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env, stdio: 'ignore', detached: true });
    let timedOut = false;
    let killTimer: SafeTimer | undefined;
    const signalGroup = (signal: NodeJS.Signals) => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, signal);
      } catch {
        // already gone
      }
    };
    const timer = setSafeTimeout(() => {
      timedOut = true;
      signalGroup('SIGTERM');
      killTimer = setSafeTimeout(() => signalGroup('SIGKILL'), COMMAND_KILL_GRACE_MS);
    }, timeoutMs);
    child.once('error', (cause) => {
      timer.clear();
      reject(
        new SidecarError('SIDECAR_ERR_RELOAD_FAILED', `${what}: cannot run ${file} (${(cause as NodeJS.ErrnoException).code ?? cause.message})`, { cause }),
      );
    });
    child.once('exit', (code, signal) => {
      timer.clear();
      killTimer?.clear();
      if (timedOut)
        reject(new SidecarError('SIDECAR_ERR_RELOAD_TIMEOUT', `${what}: ${file} did not finish within ${timeoutMs} ms and was killed (${signal ?? 'exited'})`));
      else if (code === 0) resolve();
      else reject(new SidecarError('SIDECAR_ERR_RELOAD_FAILED', `${what}: ${file} exited with ${code === null ? `signal ${signal}` : `code ${code}`}`));
    });
  });
}
