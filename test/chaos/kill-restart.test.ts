import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Daemon, type LogRecord } from '../support/cli.js';
import { REPO_ROOT, removeDir } from '../support/dirs.js';
import { makeProject, type Project } from '../support/project.js';
import { seededRandom } from '../support/seeded-random.js';

/*
 * Crash safety: the built CLI in `run` mode renders a stream of changes into 20 files while it is killed with
 * SIGKILL at random moments and restarted. A reader in another process reads the files the whole time; every
 * read must be one complete version (its first line is the SHA-256 of the rest), and no temp file may be left
 * once a restarted sidecar has started. CHAOS_SEED replays a run; the seed and counts are printed.
 */
const TEMPLATES = 20;
const TARGET_RENDERS = Number(process.env['CHAOS_RENDERS'] ?? 1000);
const TARGET_KILLS = Number(process.env['CHAOS_KILLS'] ?? 50);
const SEED = Number(process.env['CHAOS_SEED'] ?? Date.now() % 2 ** 31);
/** Bounds, whatever the machine: the loop stops itself. */
const MAX_ROUNDS = 2000;

/** A few KiB whose first line is the SHA-256 of the rest. */
function version(template: number, round: number): string {
  const body = `template ${template} round ${round}\n${`chaos-${template}-${round}-`.repeat(120)}\n`;
  return `sha256:${createHash('sha256').update(body).digest('hex')}\n${body}`;
}

let project: Project | undefined;
let reader: ChildProcess | undefined;
afterAll(async () => {
  reader?.kill('SIGKILL');
  await removeDir(project?.root);
});

describe('crash safety under kill -9 (built CLI)', () => {
  it(
    `renders ${TARGET_RENDERS} times across ${TEMPLATES} files through ${TARGET_KILLS} kill -9s without a partial, empty or mixed file or a leftover temp file`,
    { timeout: 300_000 },
    async () => {
      const rand = seededRandom(SEED);
      const values = (round: number, changed: readonly number[], previous: Record<string, string>) =>
        Object.fromEntries(
          Array.from({ length: TEMPLATES }, (_, t) => [`t${t}`, changed.includes(t) ? version(t, round) : (previous[`t${t}`] ?? version(t, 0))]),
        );
      let current = values(0, [], {});
      project = await makeProject({
        config: `backend "file" "local" {\n  path = "@ROOT@/secrets.json"\n}\nwait {\n  min = "0s"\n  max = "50ms"\n}\n${Array.from({ length: TEMPLATES }, (_, t) => `template {\n  contents = "{{secret \\"local:t${t}\\"}}"\n  destination = "@OUT@/t${t}.txt"\n}\n`).join('')}`,
        secrets: current,
      });
      const p = project;
      // The source changes by rename, as a careful writer (or Kubernetes) does: the sidecar sees whole documents.
      const publish = async (next: Record<string, string>) => {
        await writeFile(join(p.root, 'secrets.next'), JSON.stringify(next));
        await rename(join(p.root, 'secrets.next'), p.secretsFile);
      };
      const start = async () => {
        const daemon = new Daemon(['-c', p.config]);
        await daemon.waitFor((r) => r.msg === 'all templates rendered');
        return daemon;
      };
      let daemon = await start();
      reader = spawn(
        process.execPath,
        [join(REPO_ROOT, 'test/fixtures/checksum-reader.mjs'), ...Array.from({ length: TEMPLATES }, (_, t) => join(p.out, `t${t}.txt`))],
        { stdio: ['pipe', 'pipe', 'inherit'] },
      );
      let readerOut = '';
      reader.stdout?.on('data', (chunk: Buffer) => (readerOut += chunk.toString()));
      await new Promise<void>((resolve) => reader?.stdout?.once('data', () => resolve()));

      const isWrite = (r: LogRecord) => r.msg === 'rendered' && r['outcome'] === 'written';
      let renders = daemon.count(isWrite);
      let kills = 0;
      let leftovers = 0;
      let cleaned = 0;
      for (let round = 1; round <= MAX_ROUNDS && (renders < TARGET_RENDERS || kills < TARGET_KILLS); round++) {
        const changed = Array.from({ length: TEMPLATES }, (_, t) => t).filter(() => rand() < 0.5);
        current = values(round, changed, current);
        const mark = daemon.mark;
        await publish(current);
        if (kills < TARGET_KILLS && rand() < 0.35) {
          // Somewhere in the middle of rendering this round: before, during or after some of the writes.
          await new Promise((resolve) => setTimeout(resolve, Math.floor(rand() * 40)));
          renders += daemon.count(isWrite, mark);
          daemon.child.kill('SIGKILL');
          await daemon.exited;
          kills++;
          daemon = await start();
          // A restarted sidecar has cleaned up after the killed one before it writes anything.
          leftovers += readdirSync(p.out).filter((name) => name.includes('.sidecar-tmp-')).length;
          cleaned += daemon.records.filter((r) => r.msg === 'removed temp files left by an earlier run').reduce((n, r) => n + Number(r['removed']), 0);
          renders += daemon.count(isWrite);
        } else if (changed.length > 0) {
          await daemon.waitFor((r) => isWrite(r) && String(r['destination']).endsWith(`/t${changed.at(-1) ?? 0}.txt`), mark);
          renders += daemon.count(isWrite, mark);
        }
      }
      await daemon.stop();
      reader.stdin?.end();
      await new Promise<void>((resolve) => reader?.once('close', () => resolve()));
      const reads = JSON.parse(readerOut.split('\n').filter(Boolean).at(-1) ?? '{}') as { reads: number; complete: number; bad: number; missing: number };
      console.log(
        `chaos seed ${SEED}: ${renders} renders, ${kills} kill -9s, ${reads.reads} reads (${reads.complete} complete, ${reads.bad} partial/empty/mixed, ${reads.missing} missing), ${cleaned} temp files of killed runs removed at restart, ${leftovers} left over`,
      );
      expect(renders).toBeGreaterThanOrEqual(TARGET_RENDERS);
      expect(kills).toBeGreaterThanOrEqual(TARGET_KILLS);
      expect(reads.reads).toBeGreaterThan(0);
      expect(reads.bad).toBe(0);
      expect(reads.missing).toBe(0);
      expect(leftovers).toBe(0);
      expect(readdirSync(p.out).filter((name) => name.includes('.sidecar-tmp-'))).toEqual([]);
    },
  );
});
