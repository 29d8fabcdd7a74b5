import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI } from '../support/cli.js';
import { removeDir } from '../support/dirs.js';
import { makeProject, type Project } from '../support/project.js';

/*
 * The image runs `tini -- node main.js`. Here the same command runs as PID 1 of a fresh PID namespace
 * (unshare --pid --fork), with an application that leaves an orphan behind on every run: the orphan is
 * re-parented to PID 1, and only an init that reaps unknown children keeps it from staying a zombie.
 */

let project: Project | undefined;
let namespace: ChildProcess | undefined;
/** Host pid of the namespace's PID 1. Killing unshare alone leaves the namespace running; killing its PID 1 ends it all. */
let namespacePid1: number | undefined;
afterEach(async () => {
  if (namespacePid1 !== undefined) {
    try {
      process.kill(namespacePid1, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  if (namespace && namespace.exitCode === null) {
    namespace.kill('SIGKILL');
    await new Promise((resolve) => namespace?.once('close', resolve));
  }
  await removeDir(project?.root);
  project = namespace = namespacePid1 = undefined;
});

interface Proc {
  pid: number;
  ppid: number;
  state: string;
  comm: string;
}

function processes(): Proc[] {
  const list: Proc[] = [];
  for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      list.push({ pid: Number(entry), ppid: Number(ppid), state: state ?? '', comm });
    } catch {
      // gone meanwhile
    }
  }
  return list;
}

/** Polls /proc until `check` returns a value, for at most `ms` (the namespace's processes are not ours to await). */
async function pollProc<T>(check: (procs: Proc[]) => T | undefined, ms: number): Promise<T | undefined> {
  for (const deadline = Date.now() + ms; Date.now() < deadline;) {
    const found = check(processes());
    if (found !== undefined) return found;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return undefined;
}

/** Starts the sidecar as PID 1 of a new PID namespace (under tini, or alone) and returns the host pid of that PID 1. */
async function startAsPid1(withInit: boolean): Promise<number> {
  project = await makeProject({
    config: `
backend "file" "local" {
  path = "secrets.json"
}
exec {
  # Leaves a short-lived orphan and fails, so that restart = "on-failure" keeps making orphans.
  command = ["/bin/sh", "-c", "sleep 0.3 & exit 1"]
  restart = "on-failure"
}
template {
  contents    = "{{secret \\"local:a\\"}}"
  destination = "@OUT@/a"
}
`,
    secrets: { a: 'pid1-test-value' },
  });
  const init = withInit ? ['/usr/bin/tini', '--'] : [];
  namespace = spawn('unshare', ['--pid', '--fork', '--mount-proc', ...init, process.execPath, CLI, 'run', '-c', project.config], { stdio: 'ignore' });
  const unsharePid = namespace.pid ?? -1;
  const pid1 = await pollProc((procs) => procs.find((p) => p.ppid === unsharePid)?.pid, 10_000);
  expect(pid1, 'PID 1 of the namespace started').toBeDefined();
  namespacePid1 = pid1;
  return pid1 ?? -1;
}

describe('as PID 1 in a container', () => {
  it('leaves no zombie under tini, the init the image runs', async () => {
    const pid1 = await startAsPid1(true);
    // Wait until an orphaned sleep has been re-parented to PID 1 (its shell exited), then until it is gone.
    const orphan = await pollProc((procs) => procs.find((p) => p.ppid === pid1 && p.comm === 'sleep')?.pid, 15_000);
    expect(orphan, 'an orphan was re-parented to PID 1').toBeDefined();
    const reaped = await pollProc((procs) => (procs.some((p) => p.pid === orphan) ? undefined : true), 5_000);
    expect(reaped, 'the orphan was reaped, not left a zombie').toBe(true);
    expect(processes().filter((p) => p.ppid === pid1 && p.state === 'Z')).toEqual([]);
  });

  it('(control) would leave zombies without an init, which is why the image runs tini', async () => {
    const pid1 = await startAsPid1(false);
    const zombie = await pollProc((procs) => procs.find((p) => p.ppid === pid1 && p.comm === 'sleep' && p.state === 'Z'), 15_000);
    expect(zombie, 'the check above can see a zombie when there is one').toBeDefined();
  });
});
