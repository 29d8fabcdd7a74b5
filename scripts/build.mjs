// Builds dist/cli/main.js: one ES module bundle of src/ and its small dependencies, with each backend in its
// own chunk loaded on first use. Start-up is most of a one-shot run, and Node spends it resolving and reading
// hundreds of files; one bundle cuts a `once` run from about 0.5 s to 0.15 s (bench/). Packages that are big
// and optional (the AWS SDK, the pretty printer), or that node-vault's CommonJS tree loads itself stay in
// node_modules and load on demand.
import { readFileSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

/** zod's `locales` namespace re-export, resolved to a stub that keeps English only. */
const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(build) {
    build.onResolve({ filter: /\/locales\/index\.js$/ }, (args) =>
      args.importer.includes('/node_modules/zod/') ? { path: new URL('./stubs/zod-locales.mjs', import.meta.url).pathname } : undefined,
    );
  },
};

const outdir = new URL('../dist/cli/', import.meta.url).pathname;
rmSync(new URL('../dist/', import.meta.url), { recursive: true, force: true });

/** What the providers ask the bundle to leave external, read from the registry itself (each descriptor says). */
async function providerExternals() {
  const outfile = new URL('../dist/.registry.mjs', import.meta.url).pathname;
  await build({
    entryPoints: [new URL('../src/backends/registry.ts', import.meta.url).pathname],
    outfile,
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    logLevel: 'warning',
  });
  try {
    const { PROVIDERS } = await import(outfile);
    return [...new Set(PROVIDERS.flatMap((p) => p.bundleExternal))];
  } finally {
    rmSync(outfile, { force: true });
  }
}
const shared = {
  bundle: true,
  // src/cli/version.ts: the version without a file read at start.
  define: { __SIDECAR_VERSION__: JSON.stringify(JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version) },
  platform: 'node',
  target: 'node20',
  // ESM builds first: jsonc-parser's UMD build requires its own files by relative path at run time.
  mainFields: ['module', 'main'],
  plugins: [zodEnglishOnly],
  alias: { 'source-map': new URL('./stubs/no-source-map.cjs', import.meta.url).pathname },
  external: ['pino-pretty', ...(await providerExternals())],
  sourcemap: false,
  logLevel: 'warning',
};
await build({
  ...shared,
  entryPoints: [new URL('../src/cli/main.ts', import.meta.url).pathname],
  outdir,
  splitting: true,
  // Every file in one directory, so that paths relative to a module (../../package.json) hold in any chunk.
  chunkNames: '[name]-[hash]',
  format: 'esm',
  // Bundled CommonJS modules call require() for Node's built-ins; an ES module has none of its own.
  banner: { js: "import { createRequire as __sidecarCreateRequire } from 'node:module';\nconst require = __sidecarCreateRequire(import.meta.url);" },
});
// The start-up snapshot's entry (src/cli/snapshot.ts; scripts/build-snapshot.mjs makes the blob): one CommonJS
// script, as `node --build-snapshot` takes, with every chunk inside. The require() a snapshot entry gets knows
// only Node's built-ins; packages left in node_modules are required at run time, next to dist/cli/main.js,
// which is also what `import.meta.url` stands for.
await build({
  ...shared,
  entryPoints: [new URL('../src/cli/snapshot.ts', import.meta.url).pathname],
  outfile: new URL('../dist/snapshot/entry.cjs', import.meta.url).pathname,
  format: 'cjs',
  // Node keeps the whole blob in memory for the life of the process: without whitespace and with shorter
  // syntax its source is a third smaller (names stay, for stack traces), and the blob 2.4 MB smaller.
  minifyWhitespace: true,
  minifySyntax: true,
  // A snapshot's script has no dynamic import(): packages left outside are loaded with require() (all have
  // CommonJS builds), which the banner below points at node_modules.
  supported: { 'dynamic-import': false },
  define: { ...shared.define, 'import.meta.url': 'globalThis.__sidecarModuleUrl' },
  banner: {
    js: [
      "const __sidecarBuiltinRequire = require, __sidecarModule = require('node:module');",
      'require = (id) => (__sidecarModule.isBuiltin(id) ? __sidecarBuiltinRequire(id) : __sidecarModule.createRequire(globalThis.__sidecarModuleUrl)(id));',
    ].join('\n'),
  },
});
// The blob itself, with this node; --no-snapshot leaves it to the Dockerfile's snapshot stage.
if (!process.argv.includes('--no-snapshot')) await import('./build-snapshot.mjs');
