/*
 * YAML as consul-template's toYAML writes it (gopkg.in/yaml.v2 Marshal, then trimmed), following yaml.v2's
 * emitter: map keys in its "natural" order (digit runs compared as numbers), block style, a sequence under a
 * key not indented, a string plain when it reads back as the same string, single-quoted when it holds
 * indicators, double-quoted when it would read back as another type or holds characters YAML cannot print, a
 * literal block (`|`, `|-`, `|+`) when it spans lines; plain and quoted strings fold at a space once a line is
 * past column 80; numbers as Go's strconv 'g' (exponent from 1e+06).
 */

const BEST_WIDTH = 80;
const BEST_INDENT = 2;

export function goYAML(value: unknown, visit: (value: unknown) => void = () => undefined): string {
  const emitter = new Emitter(visit);
  emitter.node(value, -BEST_INDENT, 'document');
  return emitter.out.trim();
}

type Place = 'document' | 'mapping-value' | 'sequence-item';

class Emitter {
  out = '';
  column = 0;
  indent = 0;
  /** The last character written is white space (or nothing was written on the line). */
  whitespace = true;
  /** Only indentation so far on this line. */
  indention = true;

  constructor(private readonly visit: (value: unknown) => void) {}

  /** `parentIndent`: the indent of the collection holding the node (-2 at the top). */
  node(value: unknown, parentIndent: number, place: Place): void {
    this.visit(value);
    if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array)) {
      const entries = Array.isArray(value) ? undefined : naturalOrder(Object.keys(value));
      const empty = entries === undefined ? (value as unknown[]).length === 0 : entries.length === 0;
      if (empty) return this.scalarText(Array.isArray(value) ? '[]' : '{}');
      // A sequence under a key sits at the key's indent; everything else one level in.
      const indent = Array.isArray(value) && place === 'mapping-value' ? parentIndent : parentIndent + BEST_INDENT;
      if (Array.isArray(value)) {
        value.forEach((item, i) => {
          this.startEntry(indent, i === 0 && place === 'sequence-item');
          this.put('-');
          this.node(item, indent, 'sequence-item');
        });
        return;
      }
      (entries as string[]).forEach((key, i) => {
        this.startEntry(indent, i === 0 && place === 'sequence-item');
        this.visit(key);
        this.scalar(key, indent, true);
        this.put(':');
        this.node((value as Record<string, unknown>)[key], indent, 'mapping-value');
      });
      return;
    }
    this.scalar(value, parentIndent + BEST_INDENT, false);
  }

  /** A new entry at `indent`: on a new line, unless it is the first of a collection written after `- `. */
  startEntry(indent: number, compact: boolean): void {
    this.indent = indent;
    if (compact) {
      this.put(' ');
      this.whitespace = true;
      return;
    }
    this.writeIndent();
  }

  scalar(value: unknown, indent: number, key: boolean): void {
    this.indent = indent;
    if (value === null || value === undefined) return this.scalarText('null');
    if (typeof value === 'boolean') return this.scalarText(String(value));
    if (typeof value === 'number') return this.scalarText(yamlNumber(value));
    if (typeof value !== 'string') throw new TypeError(`yaml: unsupported type ${typeof value}`);
    const info = analyze(value);
    let style: 'plain' | 'single' | 'double' | 'literal' = value.includes('\n') ? 'literal' : resolvesToOther(value) ? 'double' : 'plain';
    if (style === 'plain' && (!info.blockPlain || (value.length === 0 && key))) style = 'single';
    if (style === 'single' && !info.singleQuoted) style = 'double';
    if (style === 'literal' && (!info.block || key)) style = 'double';
    if (!this.whitespace) this.put(' ');
    const breaks = !key;
    if (style === 'plain') this.plain(value, breaks);
    else if (style === 'single') this.singleQuoted(value, breaks);
    else if (style === 'double') this.doubleQuoted(value, breaks);
    else this.literal(value);
  }

  scalarText(text: string): void {
    if (!this.whitespace) this.put(' ');
    this.put(text);
  }

  put(text: string): void {
    this.out += text;
    this.column += [...text].length;
    this.whitespace = text === ' ';
    this.indention = false;
  }

  putBreak(): void {
    this.out += '\n';
    this.column = 0;
    this.whitespace = true;
    this.indention = true;
  }

  writeIndent(): void {
    const indent = Math.max(0, this.indent);
    if (!this.indention || this.column > indent || (this.column === indent && !this.whitespace)) this.putBreak();
    while (this.column < indent) {
      this.out += ' ';
      this.column++;
    }
    this.whitespace = true;
    this.indention = true;
  }

  plain(value: string, allowBreaks: boolean): void {
    const chars = [...value];
    let spaces = false;
    for (let i = 0; i < chars.length; i++) {
      const c = chars[i] as string;
      if (c === ' ') {
        if (allowBreaks && !spaces && this.column > BEST_WIDTH && chars[i + 1] !== ' ') this.writeIndent();
        else this.put(c);
        spaces = true;
      } else {
        this.put(c);
        spaces = false;
      }
    }
    this.whitespace = false;
  }

  singleQuoted(value: string, allowBreaks: boolean): void {
    this.put("'");
    const chars = [...value];
    let spaces = false;
    let breaks = false;
    for (let i = 0; i < chars.length; i++) {
      const c = chars[i] as string;
      if (c === ' ') {
        if (allowBreaks && !spaces && this.column > BEST_WIDTH && i > 0 && i < chars.length - 1 && chars[i + 1] !== ' ') this.writeIndent();
        else this.put(c);
        spaces = true;
      } else if (isBreak(c)) {
        if (!breaks && c === '\n') this.putBreak();
        if (c === '\n') this.putBreak();
        else {
          this.out += c;
          this.column = 0;
        }
        this.indention = true;
        breaks = true;
      } else {
        if (breaks) this.writeIndent();
        this.put(c === "'" ? "''" : c);
        spaces = false;
        breaks = false;
      }
    }
    this.put("'");
  }

  doubleQuoted(value: string, allowBreaks: boolean): void {
    this.put('"');
    const chars = [...value];
    // yaml.v2's is_bom looks at the start of the text whatever the position: after a leading BOM, all is escaped.
    const bom = value.startsWith('\ufeff');
    let spaces = false;
    for (let i = 0; i < chars.length; i++) {
      const c = chars[i] as string;
      const code = c.codePointAt(0) as number;
      if (bom || !isPrintable(code) || code === 0xfeff || isBreak(c) || c === '"' || c === '\\') {
        this.put(`\\${escapeOf(code)}`);
        spaces = false;
      } else if (c === ' ') {
        if (allowBreaks && !spaces && this.column > BEST_WIDTH && i > 0 && i < chars.length - 1) {
          this.writeIndent();
          if (chars[i + 1] === ' ') this.put('\\');
        } else this.put(c);
        spaces = true;
      } else {
        this.put(c);
        spaces = false;
      }
    }
    this.put('"');
  }

  literal(value: string): void {
    const chars = [...value];
    const first = chars[0] ?? '';
    const last = chars[chars.length - 1] ?? '';
    let hints = first === ' ' || isBreak(first) ? String(BEST_INDENT) : '';
    if (!isBreak(last)) hints += '-';
    else if (chars.length === 1 || isBreak(chars[chars.length - 2] ?? '')) hints += '+';
    this.put(`|${hints}`);
    this.putBreak();
    let breaks = true;
    for (const c of chars) {
      if (isBreak(c)) {
        if (c === '\n') this.putBreak();
        else {
          this.out += c;
          this.column = 0;
          this.whitespace = true;
        }
        this.indention = true;
        breaks = true;
      } else {
        if (breaks) {
          this.writeIndent();
          breaks = false;
        }
        this.put(c);
      }
    }
  }
}

const SHORT_ESCAPES: Readonly<Record<number, string>> = {
  0x00: '0',
  0x07: 'a',
  0x08: 'b',
  0x09: 't',
  0x0a: 'n',
  0x0b: 'v',
  0x0c: 'f',
  0x0d: 'r',
  0x1b: 'e',
  0x22: '"',
  0x5c: '\\',
  0x85: 'N',
  0xa0: '_',
  0x2028: 'L',
  0x2029: 'P',
};

function escapeOf(code: number): string {
  const short = SHORT_ESCAPES[code];
  if (short !== undefined) return short;
  const hex = code.toString(16).toUpperCase();
  if (code <= 0xff) return `x${hex.padStart(2, '0')}`;
  if (code <= 0xffff) return `u${hex.padStart(4, '0')}`;
  return `U${hex.padStart(8, '0')}`;
}

/**
 * Vault's numbers reach yaml.v2 as json.Number: one that fits an int64 prints as an integer, any other as
 * strconv.FormatFloat(v, 'g', -1, 64) (an exponent from 1e+06 on, or below 1e-04).
 */
function yamlNumber(value: number): string {
  if (Number.isNaN(value)) return '.nan';
  if (!Number.isFinite(value)) return value > 0 ? '.inf' : '-.inf';
  if (Number.isInteger(value) && Math.abs(value) < 2 ** 63) return BigInt(value).toString();
  const [mantissa = '0', e = '0'] = value.toExponential().split('e');
  const exp = Number(e);
  if (exp < -4 || exp >= 6) return `${mantissa}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  return String(value);
}

const YAML_SPECIAL = new Set([
  'y',
  'Y',
  'yes',
  'Yes',
  'YES',
  'n',
  'N',
  'no',
  'No',
  'NO',
  'true',
  'True',
  'TRUE',
  'false',
  'False',
  'FALSE',
  'on',
  'On',
  'ON',
  'off',
  'Off',
  'OFF',
  '',
  '~',
  'null',
  'Null',
  'NULL',
  '.nan',
  '.NaN',
  '.NAN',
  '.inf',
  '.Inf',
  '.INF',
  '+.inf',
  '+.Inf',
  '+.INF',
  '-.inf',
  '-.Inf',
  '-.INF',
]);
const YAML_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const BASE60 = /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$/;
const TIMESTAMP =
  /^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:(?:[Tt][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]{1,9})?(?:Z|[+-][0-9]{2}:[0-9]{2}))|(?: [0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]{1,9})?))?$/;

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

/** yaml.v2's is_printable, which reads UTF-8 bytes: U+0085 and every character past U+FFFF (emoji) are not. */
function isPrintable(c: number): boolean {
  return c === 0x0a || (c >= 0x20 && c <= 0x7e) || (c >= 0xa0 && c <= 0xd7ff) || (c >= 0xe000 && c <= 0xfffd && c !== 0xfeff);
}

function isBreak(c: string): boolean {
  return c === '\n' || c === '\r' || c === '\u0085' || c === '\u2028' || c === '\u2029';
}

/** yaml.v2's scalar analysis: which styles may write `s` in block context. */
function analyze(s: string): { blockPlain: boolean; singleQuoted: boolean; block: boolean } {
  if (s.length === 0) return { blockPlain: true, singleQuoted: true, block: false };
  let indicators = s.startsWith('---') || s.startsWith('...');
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
      if ('#,[]{}&*!|>\'"%@`'.includes(c)) indicators = true;
      else if ((c === '?' || c === ':' || c === '-') && followedByWhitespace) indicators = true;
    } else if ((c === ':' && followedByWhitespace) || (c === '#' && precededByWhitespace)) indicators = true;
    const code = c.codePointAt(0) ?? 0;
    if (!isPrintable(code)) special = true;
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
  const blockPlain = !(leadingSpace || leadingBreak || trailingSpace || trailingBreak || breakSpace || spaceBreak || special || lineBreaks || indicators);
  return { blockPlain, singleQuoted: !(breakSpace || spaceBreak || special), block: !(trailingSpace || spaceBreak || special) };
}

/** Keys in yaml.v2's order, each split into characters once rather than at every comparison. */
function naturalOrder(keys: string[]): string[] {
  return keys
    .map((key) => ({ key, chars: [...key] }))
    .sort((a, b) => compareChars(a.chars, b.chars))
    .map((entry) => entry.key);
}

/** yaml.v2's key order: letters before other characters, digit runs compared as numbers. */
export function naturalLess(a: string, b: string): number {
  return compareChars([...a], [...b]);
}

function compareChars(ar: readonly string[], br: readonly string[]): number {
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
      for (let j = i - 1; j >= 0 && /[0-9]/.test(ar[j] as string); j--) {
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
