// Runs the Key Vault wire emulator of the tests (test/support/keyvault-emulator.ts) on its own, for examples and
// manual trials: `node scripts/keyvault-emulator.mjs [--port N] [--name NAME] [--no-hosts]`. It is a test tool,
// so it is built here, into a temporary directory, and never shipped in dist/.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const dir = mkdtempSync(join(tmpdir(), 'keyvault-emulator-'));
const outfile = join(dir, 'keyvault-emulator.js');
await build({
  entryPoints: [new URL('../test/support/keyvault-emulator.ts', import.meta.url).pathname],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  logLevel: 'warning',
});
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
// The emulator starts itself when run as keyvault-emulator.js.
process.argv[1] = outfile;
await import(pathToFileURL(outfile).href);
