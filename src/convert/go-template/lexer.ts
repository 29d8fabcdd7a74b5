/*
 * A tokenizer for Go's text/template syntax, following the rules of Go's text/template/parse lexer: text and
 * actions, `{{- ` and ` -}}` trim markers (a dash followed by a space, tab, CR or LF), comments `/* … *\/` that
 * must sit right against their delimiters, and the tokens inside actions. Every token carries its position.
 */

export interface Position {
  /** Offset in the source, in UTF-16 code units. */
  readonly offset: number;
  /** 1-based. */
  readonly line: number;
  /** 1-based. */
  readonly column: number;
}

export type TokenKind =
  | 'text'
  | 'comment'
  | 'leftDelim'
  | 'rightDelim'
  | 'space'
  | 'identifier'
  | 'keyword'
  | 'field'
  | 'variable'
  | 'dot'
  | 'string'
  | 'rawString'
  | 'char'
  | 'number'
  | 'bool'
  | 'nil'
  | 'declare'
  | 'assign'
  | 'pipe'
  | 'leftParen'
  | 'rightParen'
  | 'comma'
  | 'eof';

export interface Token {
  readonly kind: TokenKind;
  /** As written (for a string: with its quotes; for a field: with its dot). */
  readonly text: string;
  readonly pos: Position;
  /** Delimiters: the trim marker was present (`{{-` or `-}}`). */
  readonly trim?: boolean;
}

/** A syntax error at a position; the translator turns it into a finding. */
export class GoTemplateSyntaxError extends Error {
  constructor(
    message: string,
    readonly pos: Position,
    /** A limit of the converter's (nesting depth), not an error consul-template makes too. */
    readonly converterLimit = false,
  ) {
    super(message);
  }
}

const KEYWORDS = new Set(['block', 'break', 'continue', 'define', 'else', 'end', 'if', 'range', 'template', 'with']);
const TRIM_SPACE = new Set([' ', '\t', '\r', '\n']);

export interface Delimiters {
  readonly left: string;
  readonly right: string;
}

export function tokenize(source: string, delimiters: Delimiters = { left: '{{', right: '}}' }): Token[] {
  return new Lexer(source, delimiters).run();
}

class Lexer {
  readonly #tokens: Token[] = [];
  readonly #lineStarts: number[] = [0];
  #at = 0;
  #parenDepth = 0;

  constructor(
    private readonly src: string,
    private readonly delims: Delimiters,
  ) {
    for (let i = src.indexOf('\n'); i !== -1; i = src.indexOf('\n', i + 1)) this.#lineStarts.push(i + 1);
  }

  run(): Token[] {
    const { left } = this.delims;
    while (this.#at < this.src.length) {
      const next = this.src.indexOf(left, this.#at);
      const end = next === -1 ? this.src.length : next;
      if (end > this.#at) this.#push('text', this.#at, end);
      if (next === -1) break;
      this.#action(next);
    }
    this.#tokens.push({ kind: 'eof', text: '', pos: this.position(this.src.length) });
    return this.#tokens;
  }

  position(offset: number): Position {
    let lo = 0;
    let hi = this.#lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.#lineStarts[mid] ?? 0) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { offset, line: lo + 1, column: offset - (this.#lineStarts[lo] ?? 0) + 1 };
  }

  #push(kind: TokenKind, start: number, end: number, trim?: boolean): void {
    const token: Token = { kind, text: this.src.slice(start, end), pos: this.position(start) };
    this.#tokens.push(trim === undefined ? token : { ...token, trim });
  }

  #fail(message: string, offset: number): never {
    throw new GoTemplateSyntaxError(message, this.position(offset));
  }

  /** `{{` (with its trim marker), then a comment or the action's tokens, then `}}`. */
  #action(start: number): void {
    const { left, right } = this.delims;
    let at = start + left.length;
    const trimLeft = this.src[at] === '-' && TRIM_SPACE.has(this.src[at + 1] ?? '');
    if (trimLeft) at += 2;
    this.#push('leftDelim', start, at, trimLeft);
    // A comment starts right after the delimiter and its trim marker (spaces included in the marker).
    if (this.src.startsWith('/*', at)) {
      const close = this.src.indexOf('*/', at + 2);
      if (close === -1) this.#fail('unclosed comment', start);
      let after = close + 2;
      const trimRight = this.src[after] === ' ' && this.src[after + 1] === '-' && this.src.startsWith(right, after + 2);
      if (trimRight) after += 2;
      if (!this.src.startsWith(right, after)) this.#fail('comment ends before closing delimiter', close);
      this.#push('comment', at, close + 2);
      this.#push('rightDelim', trimRight ? after - 2 : after, after + right.length, trimRight);
      this.#at = after + right.length;
      return;
    }
    this.#parenDepth = 0;
    this.#at = at;
    for (;;) {
      if (this.#atRightDelim()) return;
      if (this.#at >= this.src.length) this.#fail('unclosed action', start);
      this.#inside();
    }
  }

  /** ` -}}` or `}}` (only outside parentheses); pushes it and moves past it. */
  #atRightDelim(): boolean {
    const { right } = this.delims;
    const at = this.#at;
    const trimmed = TRIM_SPACE.has(this.src[at] ?? '') && this.src[at + 1] === '-' && this.src.startsWith(right, at + 2);
    if (trimmed) {
      if (this.#parenDepth > 0) this.#fail('unclosed left paren', at);
      this.#push('rightDelim', at, at + 2 + right.length, true);
      this.#at = at + 2 + right.length;
      return true;
    }
    if (this.src.startsWith(right, at)) {
      if (this.#parenDepth > 0) this.#fail('unclosed left paren', at);
      this.#push('rightDelim', at, at + right.length, false);
      this.#at = at + right.length;
      return true;
    }
    return false;
  }

  #inside(): void {
    const src = this.src;
    const start = this.#at;
    const ch = src[start] ?? '';
    if (TRIM_SPACE.has(ch)) {
      let end = start;
      // A space before ` -}}` belongs to the trim marker.
      while (TRIM_SPACE.has(src[end] ?? '') && !(src[end + 1] === '-' && src.startsWith(this.delims.right, end + 2))) end++;
      if (end === start) return this.#single('space', 1); // the marker's own space comes next round
      return this.#single('space', end - start);
    }
    if (ch === ':') {
      if (src[start + 1] !== '=') this.#fail('expected :=', start);
      return this.#single('declare', 2);
    }
    if (ch === '=') return this.#single('assign', 1);
    if (ch === '|') return this.#single('pipe', 1);
    if (ch === ',') return this.#single('comma', 1);
    if (ch === '(') {
      this.#parenDepth++;
      return this.#single('leftParen', 1);
    }
    if (ch === ')') {
      this.#parenDepth--;
      if (this.#parenDepth < 0) this.#fail('unexpected right paren', start);
      return this.#single('rightParen', 1);
    }
    if (ch === '"') return this.#quoted(start, '"', 'string', 'quoted string');
    if (ch === '`') {
      const close = src.indexOf('`', start + 1);
      if (close === -1) this.#fail('unterminated raw quoted string', start);
      return this.#single('rawString', close + 1 - start);
    }
    if (ch === "'") return this.#quoted(start, "'", 'char', 'character constant');
    if (ch === '$') return this.#single('variable', 1 + this.#wordLength(start + 1));
    if (ch === '.') {
      // `.5` is a number; `.` alone is dot; `.Name` is a field.
      if (/[0-9]/.test(src[start + 1] ?? '')) return this.#number(start);
      const length = this.#wordLength(start + 1);
      return this.#single(length === 0 ? 'dot' : 'field', 1 + length);
    }
    if (/[0-9+-]/.test(ch)) return this.#number(start);
    if (isWordChar(ch)) {
      const length = this.#wordLength(start);
      const word = src.slice(start, start + length);
      const kind: TokenKind = KEYWORDS.has(word) ? 'keyword' : word === 'true' || word === 'false' ? 'bool' : word === 'nil' ? 'nil' : 'identifier';
      return this.#single(kind, length);
    }
    this.#fail(`unrecognized character in action: ${JSON.stringify(ch)}`, start);
  }

  #single(kind: TokenKind, length: number): void {
    this.#push(kind, this.#at, this.#at + length);
    this.#at += length;
  }

  #wordLength(from: number): number {
    let end = from;
    while (end < this.src.length && isWordChar(this.src[end] ?? '')) end++;
    return end - from;
  }

  /** A `"…"` string or `'…'` character constant, with backslash escapes, on one line. */
  #quoted(start: number, quote: string, kind: 'string' | 'char', what: string): void {
    let at = start + 1;
    for (;;) {
      const c = this.src[at];
      if (c === undefined || c === '\n') this.#fail(`unterminated ${what}`, start);
      if (c === '\\') at += 2;
      else if (c === quote) break;
      else at++;
    }
    this.#single(kind, at + 1 - start);
  }

  /** Go's number syntax, loosely: sign, digits with `_`, hex/octal/binary prefixes, fraction, exponent. */
  #number(start: number): void {
    NUMBER.lastIndex = start;
    const text = NUMBER.exec(this.src)?.[0] ?? '';
    if (!/[0-9]/.test(text)) this.#fail(`bad number syntax: ${JSON.stringify(this.src.slice(start, start + 8))}`, start);
    const after = this.src[start + text.length] ?? '';
    if (isWordChar(after)) this.#fail(`bad number syntax: ${JSON.stringify(text + after)}`, start);
    this.#single('number', text.length);
  }
}

const NUMBER = /[+-]?(?:0[xX][0-9a-fA-F_.]+(?:[pP][+-]?[0-9_]+)?|0[bBoO][0-9_]+|[0-9_]*\.?[0-9_]*(?:[eE][+-]?[0-9_]+)?)i?/y;

function isWordChar(ch: string): boolean {
  const c = ch.charCodeAt(0);
  // ASCII letters, digits and _ without a regular expression; anything else by Unicode class.
  if (c < 128) return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
  return /[\p{L}\p{Nd}]/u.test(ch);
}
