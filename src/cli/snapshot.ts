import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startupSnapshot } from 'node:v8';
import { warmUp } from './snapshot-warm-up.js';
import { startCli } from './start.js';

/*
 * The entry of the start-up snapshot (scripts/build-snapshot.mjs): building it loads the whole bundle (zod
 * schemas, Handlebars, pino, commander) once, and `node --snapshot-blob dist/snapshot/sidecar.blob <command>`
 * starts from that heap instead of parsing and evaluating it again. Nothing here may hold per-process state
 * at load time (a random key, the environment, a file descriptor): it would be the same in every process.
 */
startupSnapshot.setDeserializeMainFunction(() => {
  // The blob sits in dist/snapshot/; the bundle's paths (../../package.json, createRequire) are relative to
  // dist/cli/main.js, which is where `import.meta.url` points in the bin.
  const blob = process.execArgv[process.execArgv.indexOf('--snapshot-blob') + 1] ?? '';
  const main = join(dirname(resolve(blob)), '..', 'cli', 'main.js');
  (globalThis as { __sidecarModuleUrl?: string }).__sidecarModuleUrl = pathToFileURL(main).href;
  // `node --snapshot-blob` leaves the script out of argv: put it back where the CLI expects it.
  void startCli([process.execPath, main, ...process.argv.slice(1)]);
});

// Before the blob is written (the builder runs the event loop to its end first); a failure fails the build.
warmUp().catch((error: unknown) => {
  process.stderr.write(`the start-up snapshot warm-up failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
