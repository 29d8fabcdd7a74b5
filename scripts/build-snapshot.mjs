// Builds dist/snapshot/sidecar.blob, a V8 start-up snapshot of the bundle (dist/snapshot/entry.cjs, made by
// scripts/build.mjs): `node --snapshot-blob dist/snapshot/sidecar.blob <command> ...` starts from the loaded
// bundle instead of parsing and evaluating it, which is most of a `once` run's start. A blob loads only in the
// Node binary that made it, with the same V8 flags (NODE_FLAGS): the Dockerfile builds it in its own stage from
// the image it runs in. Without a blob, dist/cli/main.js is the same program.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';

/**
 * The V8 flags secrets-sidecar runs with from the snapshot (the Dockerfile's ENTRYPOINT, checked by test/static;
 * bench/), for a process that is mostly idle and keeps little:
 * - --max-semi-space-size=1: a young generation of 1 MiB semi-spaces instead of up to 16 MiB (about 24 MiB less
 *   peak and steady RSS on 200 templates and 500 secrets, for more frequent but smaller scavenges);
 * - --v8-pool-size=1: one V8 worker thread instead of four, so fewer malloc arenas keep freed compiler and
 *   marker memory after a burst of work;
 * - --no-opt: no optimizing compiler (TurboFan). A sidecar runs a burst at start and then a few requests a
 *   minute, where optimized code never pays for its compile memory: `run` on 200 templates holds about 7 MiB
 *   less, 13 MiB less at its peak, and spends no more CPU (bench/);
 * - --optimize-for-size: V8's heuristics that favour a small heap over speed (P2's peak about 3 MiB lower on
 *   top of --no-opt).
 * Not --lite-mode or --jitless, which would save 1-2 MiB more: they turn WebAssembly off, and Node's own
 * fetch() parses HTTP with WebAssembly (llhttp), so any dependency calling fetch() would fail.
 */
export const NODE_FLAGS = JSON.parse(readFileSync(new URL('./node-flags.json', import.meta.url), 'utf8'));

const entry = new URL('../dist/snapshot/entry.cjs', import.meta.url).pathname;
const blob = new URL('../dist/snapshot/sidecar.blob', import.meta.url).pathname;
rmSync(blob, { force: true });
// Node warns that node:module, node:child_process and worker_threads are "not yet fully verified" in a
// snapshot; the suite runs against the snapshot too (SIDECAR_TEST_SNAPSHOT=1, test/support/cli.ts). Its
// output is shown only when the build fails.
const run = spawnSync(process.execPath, [...NODE_FLAGS, '--snapshot-blob', blob, '--build-snapshot', entry], { encoding: 'utf8' });
if (run.status !== 0) {
  process.stderr.write(run.stdout + run.stderr);
  throw new Error(`building the start-up snapshot failed (${run.status ?? run.signal})`);
}
