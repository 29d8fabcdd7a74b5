import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import type { LocatedNode } from '../../src/config/located.js';
import { parseHclConfig } from '../../src/config/parse-hcl.js';
import { checkConfigSource } from '../../src/config/source-limits.js';
import { SidecarError } from '../../src/errors.js';
import { HclCorpus, mutate } from '../support/hcl-corpus.js';
import { seededRandom } from '../support/seeded-random.js';
import { parseHclWithTreeSitter } from '../support/tree-sitter-hcl.js';

/*
 * The hand-written HCL parser against the tree-sitter grammar it replaced (kept as a test oracle in
 * test/support): the same tree, positions included, for every config both accept, and a located coded error from
 * both for what they refuse. Where they disagree, it is one of HCL's own rules that the grammar did not hold
 * (listed below, each also pinned in config-hcl.test.ts), and nothing else.
 */

const FILE = '/etc/sidecar/sidecar.hcl';
const SEED = 20261201;
const CONFIGS = 1500;
const MUTANTS_PER_CONFIG = 3;

type Outcome = { ok: true; tree: string } | { ok: false; message: string; line: number; column: number };

/** HCL reads these as HashiCorp's parser does, which the grammar (or the code over its tree) did not. */
const HCL_ACCEPTS: readonly { source?: RegExp; refused?: RegExp }[] = [
  { source: /(?:^|[^0-9.])[0-9]+[eE][+-]?[0-9]/ }, // an exponent without a fraction: 1e3
  { source: /\$\$\$\{|%%%\{/ }, // "$$${": a literal "$" and then the escape "$${"
  { refused: /^comment is not supported/ }, // `a /* c */ = 1`: the old code took the comment for the value
];

/** HCL refuses these and the grammar let them through: the new parser refuses them, named by its message. */
const HCL_REFUSES: readonly { rule: RegExp; at?: (char: string, before: string) => boolean }[] = [
  { rule: /an attribute or block ends its line/ }, // `a = 1 b = 2`, `a {\n b = 1 }`, `a {} b {}`
  { rule: /a block on one line holds at most one attribute/ }, // `a { b = 1 c = 2 }`, `a { b {} }`
  { rule: /object items are separated by a comma or a new line/ }, // `{a = 1 b = 2}`
  { rule: /this string is not closed on its line/ }, // a quoted string across lines
  { rule: /no value after "=" on this line/ }, // `a =\n 1`
  { rule: /a heredoc starts with <<MARKER or <<-MARKER and a new line/ }, // `<<EOT ` (a space after the marker)
  { rule: /unexpected end of line$/ }, // a word alone on its line, `a\n= 1`
  { rule: /unexpected text$/, at: (char) => char === '\r' }, // a CR that does not end a line
  { rule: /a carriage return \(CR\) that is not part of a line end/, at: (char) => char === '\r' }, // the same in a string or heredoc
  { rule: /unexpected "\."$/ }, // `6.e17`, `"x"\n.y`: a traversal after a literal, which the grammar dropped
  { rule: /interpolation/, at: (_char, before) => !before.includes('=') }, // `${` in a block label, kept as text
];

/** The tree as plain data, entry order and every position included. */
function snapshot(node: LocatedNode): unknown {
  const at = `${node.pos.line}:${node.pos.column}`;
  if (node.kind === 'scalar') return { at, value: Object.is(node.value, -0) ? '-0' : node.value };
  if (node.kind === 'array') return { at, items: node.items.map(snapshot) };
  return { at, entries: [...node.entries].map(([key, entry]) => [key, `${entry.keyPos.line}:${entry.keyPos.column}`, snapshot(entry.node)]) };
}

function refusal(error: unknown): Outcome {
  expect(error).toBeInstanceOf(SidecarError);
  const { code, message } = error as SidecarError;
  expect(code).toBe('SIDECAR_ERR_CONFIG_SYNTAX');
  const located = /^\/etc\/sidecar\/sidecar\.hcl:(\d+):(\d+): /.exec(message);
  expect(located, message).not.toBeNull();
  return { ok: false, message: message.slice(located![0].length), line: Number(located![1]), column: Number(located![2]) };
}

async function outcomeOf(parse: () => LocatedNode | Promise<LocatedNode>): Promise<Outcome> {
  try {
    return { ok: true, tree: JSON.stringify(snapshot(await parse())) };
  } catch (error) {
    return refusal(error);
  }
}

interface Tally {
  bothAccept: number;
  bothReject: number;
  samePosition: number;
  sameMessage: number;
  sameBeyondSyntax: number;
  differences: Map<string, number>;
}

const newTally = (): Tally => ({ bothAccept: 0, bothReject: 0, samePosition: 0, sameMessage: 0, sameBeyondSyntax: 0, differences: new Map() });

async function compare(text: string, tally: Tally): Promise<void> {
  let source: string;
  try {
    source = checkConfigSource(text, FILE);
  } catch {
    return; // a mutation that split a surrogate pair: refused before either parser sees it
  }
  const expected = await outcomeOf(() => parseHclWithTreeSitter(source, FILE));
  const actual = await outcomeOf(() => parseHclConfig(source, FILE));
  const shown = JSON.stringify(source);
  if (expected.ok && actual.ok && expected.tree === actual.tree) {
    tally.bothAccept++;
    return;
  }
  if (!actual.ok && !expected.ok) {
    tally.bothReject++;
    if (actual.line === expected.line && actual.column === expected.column) tally.samePosition++;
    if (actual.message === expected.message) tally.sameMessage++;
    // Past syntax (a duplicate, a variable, an escape, a number out of range): the same words at the same place.
    if (!/^syntax error/.test(expected.message) && !/^syntax error/.test(actual.message)) {
      expect(actual, shown).toEqual(expected);
      tally.sameBeyondSyntax++;
    }
    return;
  }
  let difference: string;
  if (actual.ok) {
    const oracleMessage = expected.ok ? '' : expected.message;
    const rule = HCL_ACCEPTS.find((r) => (r.source?.test(source) ?? true) && (r.refused?.test(oracleMessage) ?? true));
    expect(rule, `accepted what the grammar ${expected.ok ? 'read differently' : `refused (${oracleMessage})`}: ${shown}`).toBeDefined();
    difference = `accepts ${String(rule!.source ?? rule!.refused)}`;
  } else {
    const lineText = source.split('\n')[actual.line - 1] ?? '';
    const [char, before] = [lineText.charAt(actual.column - 1), lineText.slice(0, actual.column - 1)];
    const known = HCL_REFUSES.find(({ rule, at }) => rule.test(actual.message) && (at?.(char, before) ?? true));
    expect(known, `refused what the grammar accepted (${actual.line}:${actual.column}: ${actual.message}): ${shown}`).toBeDefined();
    difference = `refuses ${String(known!.rule)}`;
  }
  tally.differences.set(difference, (tally.differences.get(difference) ?? 0) + 1);
}

const report = (tally: Tally) => JSON.stringify({ ...tally, differences: Object.fromEntries(tally.differences) });

describe('the hand-written HCL parser against the tree-sitter grammar', () => {
  it('reads generated configs and the shipped examples into the same tree, every position included', async () => {
    const tally = newTally();
    const random = seededRandom(SEED);
    for (let i = 0; i < CONFIGS; i++) await compare(new HclCorpus(random).config(), tally);
    for (const file of ['sidecar.example.hcl', 'examples/quickstart/sidecar.hcl']) await compare(await readFile(file, 'utf8'), tally);
    console.log(`differential, valid configs: ${report(tally)}`);
    // The generator writes valid HCL; a refusal is a name it wrote twice in one body, refused alike by both.
    expect(tally.differences.size).toBe(0);
    expect(tally.sameMessage).toBe(tally.bothReject);
    expect(tally.bothAccept).toBeGreaterThan(CONFIGS * 0.9);
  });

  it('refuses what the grammar refused, mutated and truncated configs included, and differs only where HCL does', async () => {
    const tally = newTally();
    const random = seededRandom(SEED + 1);
    for (let i = 0; i < CONFIGS; i++) {
      const text = new HclCorpus(random).config();
      for (let m = 0; m < MUTANTS_PER_CONFIG; m++) await compare(mutate(text, random), tally);
    }
    console.log(`differential, mutated configs: ${report(tally)}`);
    expect(tally.bothReject).toBeGreaterThan(CONFIGS);
    expect(tally.sameBeyondSyntax).toBeGreaterThan(100);
  });
});
