import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

/*
 * The layering rule of eslint.config.js, run through ESLint's own API on deliberately wrong imports, placed in
 * real files of the project (the text is given, the file on disk is not read).
 */
const eslint = new ESLint({ cwd: new URL('../..', import.meta.url).pathname });

async function layeringErrors(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports' || m.ruleId === 'no-restricted-syntax').map((m) => m.message);
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
});
