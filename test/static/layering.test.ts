import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

/*
 * The layering rule of eslint.config.js, run through ESLint's own API on deliberately wrong imports, placed in
 * real files of the project (the text is given, the file on disk is not read).
 */
const eslint = new ESLint({ cwd: new URL('../..', import.meta.url).pathname });

async function layeringErrors(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'layering/imports' || m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('the layering lint rule', () => {
  it('fails a backend that imports output (what ejson-tools and the issuance cache once did)', async () => {
    const errors = await layeringErrors(
      'src/backends/ejson/ejson-tools.ts',
      "import { writeAtomically } from '../../output/atomic-write.js';\nexport const write = writeAtomically;\n",
    );
    expect(errors).toEqual([expect.stringContaining("STYLE.md's layout: src/backends/ knows nothing of this")]);
  });

  it('fails lease math that imports backends, type-only imports included (the old cycle)', async () => {
    const errors = await layeringErrors('src/lease/refresh-schedule.ts', "import type { Lifetime } from '../backends/types.js';\nexport type L = Lifetime;\n");
    expect(errors).toHaveLength(1);
  });

  it('fails a dynamic import as well as a static one: runner may not reach cli', async () => {
    const errors = await layeringErrors('src/runner/once.ts', "export const load = () => import('../cli/program.js');\n");
    expect(errors).toEqual([expect.stringContaining('src/runner/ knows nothing of this')]);
  });

  it('lets config reach the provider registry, and nothing else of backends', async () => {
    expect(await layeringErrors('src/config/schema.ts', "import { PROVIDERS } from '../backends/registry.js';\nexport const p = PROVIDERS;\n")).toEqual([]);
    expect(
      await layeringErrors('src/config/schema.ts', "import { vaultProvider } from '../backends/vault/provider.js';\nexport const p = vaultProvider;\n"),
    ).toHaveLength(1);
  });

  it('keeps templates off the disk and observe off providers by name', async () => {
    expect(await layeringErrors('src/template/render.ts', "import { readFile } from 'node:fs/promises';\nexport const r = readFile;\n")).toHaveLength(1);
    expect(
      await layeringErrors('src/observe/metrics.ts', "import type { SecretBackend } from '../backends/types.js';\nexport type B = SecretBackend;\n"),
    ).toEqual([]);
    expect(
      await layeringErrors(
        'src/observe/metrics.ts',
        "import type { VaultBackendConfig } from '../backends/vault/provider.js';\nexport type B = VaultBackendConfig;\n",
      ),
    ).toHaveLength(1);
  });
  it('resolves a path before judging it: "./../", a detour through another folder, or out of src/ and back, all fail', async () => {
    const file = 'src/backends/ejson/ejson-tools.ts';
    for (const specifier of ['./../../output/atomic-write.js', '../../backends/../output/atomic-write.js', '../../../src/output/atomic-write.js']) {
      const errors = await layeringErrors(file, `import { writeAtomically } from '${specifier}';\nexport const write = writeAtomically;\n`);
      expect(errors, specifier).toEqual([expect.stringContaining("STYLE.md's layout: src/backends/ knows nothing of this")]);
    }
    expect(await layeringErrors('src/errors.ts', "export * from '../src/cli/program.js';\n")).toHaveLength(1);
    expect(await layeringErrors('src/config/schema.ts', "export { vaultProvider } from '../backends/./vault/provider.js';\n")).toHaveLength(1);
  });

  it('fails re-exports, import() type queries and template-literal import(), and an import() it cannot read', async () => {
    const file = 'src/backends/ejson/ejson-tools.ts';
    expect(await layeringErrors(file, "export * from '../../output/atomic-write.js';\n")).toHaveLength(1);
    expect(await layeringErrors(file, "export type W = typeof import('../../output/atomic-write.js').writeAtomically;\n")).toHaveLength(1);
    expect(await layeringErrors('src/runner/once.ts', 'export const load = () => import(`../cli/program.js`);\n')).toHaveLength(1);
    expect(await layeringErrors('src/runner/once.ts', "export const load = (name: string) => import('../' + name);\n")).toEqual([
      expect.stringContaining('import() takes a literal path'),
    ]);
  });

  it('keeps the webhook beside runner: it reads config, the rest of the project knows nothing of it', async () => {
    expect(
      await layeringErrors('src/webhook/pod-mutation.ts', "import { parseConfig } from '../config/load-config.js';\nexport const p = parseConfig;\n"),
    ).toEqual([]);
    expect(await layeringErrors('src/webhook/pod-mutation.ts', "import { Daemon } from '../runner/daemon.js';\nexport const d = Daemon;\n")).toHaveLength(1);
    expect(
      await layeringErrors('src/webhook/pod-mutation.ts', "import { vaultProvider } from '../backends/vault/provider.js';\nexport const v = vaultProvider;\n"),
    ).toHaveLength(1);
    expect(
      await layeringErrors('src/runner/once.ts', "import { loadWebhookConfig } from '../webhook/webhook-config.js';\nexport const l = loadWebhookConfig;\n"),
    ).toHaveLength(1);
    expect(await layeringErrors('src/config/schema.ts', "export { parseQuantity } from '../webhook/quantity.js';\n")).toHaveLength(1);
  });

  it('leaves imports inside a folder, of the shared root modules and of packages alone', async () => {
    const code =
      "import { SidecarError } from '../../errors.js';\nimport { parse } from './ejson-document.js';\nimport { z } from 'zod';\nexport const x = [SidecarError, parse, z];\n";
    expect(await layeringErrors('src/backends/ejson/ejson-tools.ts', code)).toEqual([]);
  });
});
