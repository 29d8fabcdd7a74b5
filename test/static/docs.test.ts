import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { loadConfig } from '../../src/config/load-config.js';
import { BACKEND_TYPES } from '../../src/config/backend-blocks.js';
import { configSchema } from '../../src/config/schema.js';
import { ERROR_CODES } from '../../src/errors.js';
import { REPO_ROOT } from '../support/dirs.js';

const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
const EXAMPLE = readFileSync(join(REPO_ROOT, 'sidecar.example.hcl'), 'utf8');

function tableRows(markdown: string, header: string): string[][] {
  const start = markdown.indexOf(header);
  expect(start, `README has a table headed "${header}"`).toBeGreaterThanOrEqual(0);
  const rows: string[][] = [];
  for (const line of markdown.slice(start).split('\n').slice(2)) {
    if (!line.startsWith('|')) break;
    rows.push(
      line
        .split('|')
        .slice(1, -1)
        .map((cell) => cell.trim()),
    );
  }
  return rows;
}

describe('error code registry', () => {
  it('has unique, well-formed codes, each documented in the README with its category and retry default', () => {
    const codes = Object.keys(ERROR_CODES);
    expect(new Set(codes).size).toBe(codes.length);
    const rows = tableRows(README, '| code | category | retried | meaning |');
    expect(rows.map((r) => r[0])).toEqual(codes.map((c) => `\`${c}\``));
    for (const [code, spec] of Object.entries(ERROR_CODES)) {
      expect(code).toMatch(/^SIDECAR_ERR_[A-Z]+(?:_[A-Z]+)*$/);
      const row = rows.find((r) => r[0] === `\`${code}\``);
      expect(row?.[1]).toBe(spec.category);
      expect(row?.[2]).toBe(spec.retryable ? 'yes' : 'no');
    }
  });

  it('gives every category a documented exit code, distinct between failure kinds', () => {
    const rows = tableRows(README, '| code | category | meaning |');
    for (const [category, code] of Object.entries(EXIT_CODES)) {
      const row = rows.find((r) => r[0] === String(code));
      expect(row, `exit code ${code} is documented`).toBeDefined();
      expect(row?.[1]?.split(', ')).toContain(category);
    }
    const failureCodes = ['internal', 'usage', 'backend', 'render', 'output', 'timeout'].map((c) => EXIT_CODES[c as keyof typeof EXIT_CODES]);
    expect(new Set(failureCodes).size).toBe(failureCodes.length);
    expect(failureCodes).not.toContain(0);
  });
});

describe('sidecar.example.hcl', () => {
  it('is a valid config', async () => {
    const config = await loadConfig(join(REPO_ROOT, 'sidecar.example.hcl'));
    expect(config.templates.length).toBeGreaterThan(0);
    expect(config.backends.length).toBeGreaterThan(0);
  });

  it('documents every option of the schema, with a comment', () => {
    const options = new Set<string>();
    const collect = (schema: z.ZodType): void => {
      const def = (
        schema as unknown as {
          def: {
            type: string;
            innerType?: z.ZodType;
            in?: z.ZodType;
            out?: z.ZodType;
            element?: z.ZodType;
            valueType?: z.ZodType;
            shape?: Record<string, z.ZodType>;
            options?: z.ZodType[];
          };
        }
      ).def;
      if (def.shape) {
        for (const [key, value] of Object.entries(def.shape)) {
          // Backend types are block labels, checked below; their options are collected.
          if (schema !== backendTypes) options.add(key);
          collect(value);
        }
      }
      for (const inner of [def.innerType, def.in, def.out, def.element, def.valueType, ...(def.options ?? [])]) if (inner) collect(inner);
    };
    const backendTypes = (configSchema.shape.backend as unknown as { def: { innerType: z.ZodType } }).def.innerType;
    collect(configSchema);
    expect(options.size).toBeGreaterThan(15);
    const lines = EXAMPLE.split('\n');
    for (const type of BACKEND_TYPES) expect(EXAMPLE).toMatch(new RegExp(`^backend "${type}" "`, 'm'));
    for (const option of options) {
      // An attribute or block (`option = …`, `option {`), or a block label (`auth "option" {`), commented or not.
      const at = lines.findIndex(
        (l) =>
          new RegExp(`^\\s*#?\\s*${option}\\s*(=|\\{|")`).test(l) ||
          new RegExp(`^\\s*${option}\\s`).test(l) ||
          new RegExp(`^\\s*#?\\s*\\w+ "${option}" \\{`).test(l),
      );
      expect(at, `sidecar.example.hcl shows "${option}"`).toBeGreaterThanOrEqual(0);
      // A comment on the line, or just above it (above a block's opening line for the block's first option).
      const nearby = lines.slice(Math.max(0, at - 2), at + 1);
      expect(nearby.some((l) => l.trim().startsWith('#')) || lines[at]?.includes('#'), `"${option}" has a comment`).toBe(true);
    }
  });
});
