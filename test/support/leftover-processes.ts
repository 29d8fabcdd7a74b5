import { readdirSync, readFileSync } from 'node:fs';

/** The variable that marks every process the suite starts: set before the workers exist, inherited from there. */
export const PROCESS_MARK_VARIABLE = 'SIDECAR_SUITE_RUN';

export interface MarkedProcess {
  readonly pid: number;
  readonly command: string;
}

/**
 * Live processes (not zombies) whose environment carries `mark`, other than `except`. Reads /proc: a process that
 * its parent left behind has been re-parented, so the tree no longer leads to it, but its environment does.
 * A process that dropped its environment (a pristine exec) escapes this check.
 */
export function markedProcesses(mark: string, except: ReadonlySet<number>): MarkedProcess[] {
  const needle = Buffer.from(`\0${PROCESS_MARK_VARIABLE}=${mark}\0`);
  const found: MarkedProcess[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || except.has(pid)) continue;
    try {
      const environ = Buffer.concat([Buffer.from([0]), readFileSync(`/proc/${pid}/environ`)]);
      if (!environ.includes(needle)) continue;
      // Field 3 of stat, after the parenthesised command name (which may hold spaces and parentheses).
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim().slice(0, 200);
      found.push({ pid, command });
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}

/** The pids from this process up to init: none of them is a leftover of the suite. */
export function ancestry(pid = process.pid): Set<number> {
  const pids = new Set<number>();
  for (let current = pid; current > 1 && !pids.has(current) && pids.size < 1000;) {
    pids.add(current);
    try {
      const stat = readFileSync(`/proc/${current}/stat`, 'utf8');
      current = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      break;
    }
  }
  return pids;
}
