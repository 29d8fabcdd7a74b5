import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from './dirs.js';

/**
 * An example's file with its deployment values (server addresses, container paths, production TTLs) replaced by
 * the test's. Every replacement must match, so an example that drifts from its test fails loudly.
 */
export async function adaptExample(relative: string, replacements: readonly (readonly [string, string])[]): Promise<string> {
  let text = await readFile(join(REPO_ROOT, 'examples', relative), 'utf8');
  for (const [from, to] of replacements) {
    if (!text.includes(from)) throw new Error(`examples/${relative} no longer contains ${JSON.stringify(from)}: update its test`);
    text = text.replaceAll(from, to);
  }
  return text;
}
