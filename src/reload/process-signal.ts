import { readdir, readFile } from 'node:fs/promises';
import { readTextBounded } from '../bounded-read.js';
import { SidecarError } from '../errors.js';

/** Reads a pid file: a missing, empty or garbled file means the application is not (yet) running. */
export async function readPidFile(path: string): Promise<number> {
  let text: string;
  try {
    // The application owns this file and could leave a FIFO there: a pid file is a regular file, or missing.
    text = await readTextBounded(path, { regularOnly: true, maxBytes: 64 });
  } catch (cause) {
    throw new SidecarError('SIDECAR_ERR_RELOAD_TARGET_MISSING', `pid file ${path} cannot be read (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, {
      cause,
    });
  }
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0) throw new SidecarError('SIDECAR_ERR_RELOAD_TARGET_MISSING', `pid file ${path} does not hold a process id`);
  // As for `process` targets: whoever writes the file must not be able to make the sidecar signal itself, nor a
  // process above it (an init such as tini passes a signal down, and the sidecar ends with it).
  if ((await ownLineage()).has(pid)) {
    throw new SidecarError(
      'SIDECAR_ERR_RELOAD_DENIED',
      `pid file ${path} names the sidecar itself or one of its ancestors (pid ${pid}); refusing to signal it`,
    );
  }
  return pid;
}

/** The sidecar's pid and its ancestors' up to init, read from /proc each time (a parent may die and reparent it). */
export async function ownLineage(): Promise<Set<number>> {
  const lineage = new Set([process.pid]);
  let pid = process.ppid;
  for (let depth = 0; pid > 0 && depth < 64 && !lineage.has(pid); depth++) {
    lineage.add(pid);
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    pid = Number(/^PPid:\s*(\d+)/m.exec(status)?.[1] ?? 0);
  }
  return lineage;
}

/**
 * Pids whose command line (arguments joined by spaces) matches the pattern, like `pgrep -f`; the sidecar itself
 * and its ancestors are left out so that a broad pattern cannot signal the sidecar.
 */
export async function findProcesses(pattern: RegExp, options: { procDir?: string; exclude?: readonly number[] } = {}): Promise<number[]> {
  const procDir = options.procDir ?? '/proc';
  const exclude = options.exclude ? new Set(options.exclude) : await ownLineage();
  const entries = await readdir(procDir);
  const found: number[] = [];
  await Promise.all(
    entries.map(async (entry) => {
      if (!/^\d+$/.test(entry) || exclude.has(Number(entry))) return;
      const cmdline = await readFile(`${procDir}/${entry}/cmdline`, 'utf8').catch(() => '');
      if (cmdline && pattern.test(cmdline.replace(/\0+$/, '').split('\0').join(' '))) found.push(Number(entry));
    }),
  );
  return found.sort((a, b) => a - b);
}

/** Sends a signal, turning errno into coded errors: a gone process can come back, a forbidden one will not. */
export function sendSignal(pid: number, signal: NodeJS.Signals, what: string): void {
  try {
    process.kill(pid, signal);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ESRCH') throw new SidecarError('SIDECAR_ERR_RELOAD_TARGET_MISSING', `${what}: process ${pid} does not exist`, { cause });
    if (code === 'EPERM') {
      throw new SidecarError('SIDECAR_ERR_RELOAD_DENIED', `${what}: not permitted to send ${signal} to process ${pid}`, {
        cause,
        hint: 'run the sidecar as the same user as the application (or with CAP_KILL), and share the PID namespace (Kubernetes shareProcessNamespace: true, compose pid: "service:app")',
      });
    }
    throw new SidecarError('SIDECAR_ERR_RELOAD_FAILED', `${what}: cannot signal process ${pid} (${code ?? 'error'})`, { cause });
  }
}
