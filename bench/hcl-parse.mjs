// `node bench/hcl-parse.mjs`: the config parser alone. (1) A 200-template config (P2's shape) read by the
// tree-sitter grammar that the hand-written parser replaced (kept as the test oracle in test/support) and by
// the hand-written one: the first parse (the grammar's includes loading its WebAssembly) and the median of
// later ones. (2) How the hand-written parser's time grows with its input: each shape at n and 10n, accepted or
// refused, where a linear parser takes about 10 times as long. Prints; asserts nothing.
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { build } from 'esbuild';

const root = new URL('..', import.meta.url).pathname;
// Bundled into the project so that the oracle's `import('web-tree-sitter')` resolves from node_modules.
const out = mkdtempSync(join(root, '.hcl-bench-'));
try {
  await build({
    entryPoints: { new: join(root, 'src/config/parse-hcl.ts'), old: join(root, 'test/support/tree-sitter-hcl.ts') },
    bundle: true,
    platform: 'node',
    format: 'esm',
    outdir: out,
    outExtension: { '.js': '.mjs' },
    external: ['web-tree-sitter'],
    logLevel: 'warning',
  });
  const { parseHclConfig } = await import(join(out, 'new.mjs'));
  const { parseHclWithTreeSitter } = await import(join(out, 'old.mjs'));

  let config = 'backend "vault" "main" {\n  address = "http://127.0.0.1:8200"\n  auth "token" {\n    token_file = "/run/token"\n  }\n}\n';
  for (let t = 0; t < 200; t++) config += `template {\n  source      = "tpl/t${t}.hbs"\n  destination = "/dev/shm/out/t${t}.env"\n  perms       = "0600"\n}\n`;

  const time = async (parse) => {
    const start = performance.now();
    await parse(config, 'sidecar.hcl');
    return performance.now() - start;
  };
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (const [name, parse] of [
    ['tree-sitter (WebAssembly)', parseHclWithTreeSitter],
    ['hand-written', parseHclConfig],
  ]) {
    const first = await time(parse);
    const later = [];
    for (let i = 0; i < 30; i++) later.push(await time(parse));
    console.log(`200 templates (${config.length} bytes), ${name}: first parse ${first.toFixed(2)} ms, then median ${median(later).toFixed(3)} ms`);
  }

  const shapes = {
    // Below the limit of 200,000 syntax elements (8 per attribute line, 4 per list item) at 10n.
    'attributes (n/20 lines)': (n) => Array.from({ length: n / 20 }, (_, i) => `a${i} = "v"\n`).join(''),
    'one string of n×10 chars': (n) => `a = "${'x'.repeat(n * 10)}"\n`,
    'one string of n×5 "$" and "%"': (n) => `a = "${'$%'.repeat(n * 5)}"\n`,
    'a heredoc of n lines': (n) => `a = <<-EOT\n${'  line $$ %\n'.repeat(n)}EOT\n`,
    'comments (n lines)': (n) => '# comment\n'.repeat(n) + '/* x */\n'.repeat(n),
    'a list of n/40 numbers': (n) => `a = [${'1,'.repeat(n / 40)}1]\n`,
    'refused: a heredoc never closed, n lines': (n) => `a = <<EOT\n${'line\n'.repeat(n)}`,
    'refused: a comment never closed, n lines': (n) => `a = 1 /*\n${'line\n'.repeat(n)}`,
    'refused: a string never closed, n×10 chars': (n) => `a = "${'x'.repeat(n * 10)}`,
    'refused: more elements than the limit': (n) => `a = [${'1,'.repeat(n * 10)}1]\n`,
  };
  const run = (text) => {
    const start = performance.now();
    try {
      parseHclConfig(text, 'x.hcl');
    } catch (error) {
      if (error?.code !== 'SIDECAR_ERR_CONFIG_SYNTAX') throw error;
    }
    return performance.now() - start;
  };
  const n = 40_000;
  for (const [name, shape] of Object.entries(shapes)) {
    const small = shape(n);
    const large = shape(n * 10);
    run(small); // warm up
    const [a, b] = [median([run(small), run(small), run(small)]), median([run(large), run(large), run(large)])];
    console.log(
      `${name}: n=${n} ${(small.length / 1e6).toFixed(2)} MB ${a.toFixed(1)} ms; 10n ${(large.length / 1e6).toFixed(2)} MB ${b.toFixed(1)} ms; ×${(b / a).toFixed(1)}`,
    );
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}
