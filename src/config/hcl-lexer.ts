import type { Position } from './located.js';
import { configSyntaxError } from './syntax-error.js';

/*
 * The tokens of literal-only HCL2. Quoted strings and heredocs come out decoded: their escapes applied, and
 * interpolation (`${`, `%{`) refused at its position, since a config is data and nothing in it is evaluated.
 * Newlines are tokens (they end attributes and separate object items); comments are skipped, a line comment
 * leaving its newline behind. Columns count UTF-16 code units from 1, a tab as one, as the tree-sitter grammar
 * this replaced did. Every loop moves forward through the text, so lexing is linear in its length.
 */

export type TokenKind = 'ident' | 'number' | 'string' | 'heredoc' | 'newline' | 'punct' | 'eof';

export interface Token {
  readonly kind: TokenKind;
  readonly pos: Position;
  /** An identifier, number or punctuation as written; a string's or heredoc's decoded value. */
  readonly text: string;
}

const IDENTIFIER = /[\p{ID_Start}_][\p{ID_Continue}-]*/uy;
const NUMBER = /[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const TWO_CHAR_OPERATORS = new Set(['==', '!=', '<=', '>=', '&&', '||']);
/** Punctuation an error may name: the rest could be part of a pasted token or password. */
const NAMEABLE = /^[{}[\]()=,:;"'#<>\\$%*/.!?|&+-]$/;
/**
 * Go's unicode.IsSpace, which HCL takes for a heredoc's indentation and around its closing marker: not
 * JavaScript's \s, which counts U+FEFF and leaves U+0085 out.
 */
const SPACE = String.raw`\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000`;
const LEADING_SPACE = new RegExp(`^[${SPACE}]*`);
const ONLY_SPACE = new RegExp(`^[${SPACE}]*$`);
const LONE_CR = 'syntax error: a carriage return (CR) that is not part of a line end (CR LF)';

export function describeToken(token: Token): string {
  if (token.kind === 'eof') return 'end of file';
  if (token.kind === 'newline') return 'end of line';
  if (token.kind === 'string') return 'string';
  if (token.kind === 'heredoc') return 'heredoc';
  const first = token.text.charAt(0);
  return NAMEABLE.test(first) ? `"${first}"` : 'text';
}

export class HclLexer {
  private offset = 0;
  private line = 1;
  private lineStart = 0;
  private lookahead: Token | undefined;
  /** Tokens read so far, for the config's size limit. */
  count = 0;

  constructor(
    private readonly source: string,
    private readonly file: string,
  ) {}

  peek(): Token {
    this.lookahead ??= this.read();
    return this.lookahead;
  }

  next(): Token {
    const token = this.peek();
    this.lookahead = undefined;
    return token;
  }

  error(pos: Position, message: string): Error {
    return configSyntaxError(this.file, pos, message);
  }

  private position(offset = this.offset): Position {
    return { line: this.line, column: offset - this.lineStart + 1 };
  }

  private newLineAt(offset: number): void {
    this.line++;
    this.lineStart = offset + 1;
  }

  private read(): Token {
    this.skipSpaceAndComments();
    this.count++;
    const { source } = this;
    const start = this.offset;
    const pos = this.position();
    if (start >= source.length) return { kind: 'eof', pos, text: '' };
    const char = source[start]!;
    if (char === '\n' || (char === '\r' && source[start + 1] === '\n')) {
      this.offset = char === '\n' ? start + 1 : start + 2;
      this.newLineAt(this.offset - 1);
      return { kind: 'newline', pos, text: '\n' };
    }
    if (char === '"') return { kind: 'string', pos, text: this.quoted() };
    if (char === '<' && source[start + 1] === '<') return { kind: 'heredoc', pos, text: this.heredoc() };
    const word = this.match(IDENTIFIER) ?? this.match(NUMBER);
    if (word !== undefined) return { kind: /[0-9]/.test(char) ? 'number' : 'ident', pos, text: word };
    const two = source.slice(start, start + 2);
    const text = TWO_CHAR_OPERATORS.has(two) ? two : String.fromCodePoint(source.codePointAt(start)!);
    this.offset += text.length;
    return { kind: 'punct', pos, text };
  }

  private match(pattern: RegExp): string | undefined {
    pattern.lastIndex = this.offset;
    const found = pattern.exec(this.source)?.[0];
    if (found !== undefined) this.offset += found.length;
    return found;
  }

  private skipSpaceAndComments(): void {
    const { source } = this;
    for (;;) {
      const char = source[this.offset];
      if (char === ' ' || char === '\t') this.offset++;
      else if (char === '#' || (char === '/' && source[this.offset + 1] === '/')) {
        const end = source.indexOf('\n', this.offset);
        this.offset = end === -1 ? source.length : source[end - 1] === '\r' ? end - 1 : end;
      } else if (char === '/' && source[this.offset + 1] === '*') {
        const pos = this.position();
        const end = source.indexOf('*/', this.offset + 2);
        if (end === -1) throw this.error(pos, 'syntax error: this comment is never closed by "*/"');
        // Only up to the comment's end: an indexOf past it would scan the rest of the file once per comment.
        for (let at = this.offset + 2; at < end; at++) if (source[at] === '\n') this.newLineAt(at);
        this.offset = end + 2;
      } else return;
    }
  }

  /** A quoted string, from its opening quote; HCL keeps it on one line. */
  private quoted(): string {
    const { source } = this;
    const open = this.position();
    let at = this.offset + 1;
    let chunkStart = at;
    const parts: string[] = [];
    for (;;) {
      const char = source[at];
      if (char === undefined || char === '\n') {
        throw this.error(open, 'syntax error: this string is not closed on its line (a string of several lines is a heredoc: <<EOT)');
      }
      if (char === '"') break;
      if (char === '\r') {
        if (source[at + 1] === '\n')
          throw this.error(open, 'syntax error: this string is not closed on its line (a string of several lines is a heredoc: <<EOT)');
        // HCL refuses it too; read as text, it would be a CR in the value that no editor shows.
        throw this.error(this.position(at), LONE_CR);
      }
      if (char === '\\') {
        parts.push(source.slice(chunkStart, at));
        const escape = this.escape(at);
        parts.push(escape.value);
        at += escape.length;
        chunkStart = at;
        continue;
      }
      const template = this.templateSequence(at);
      if (template !== undefined) {
        parts.push(source.slice(chunkStart, at), template);
        at += 3;
        chunkStart = at;
        continue;
      }
      at++;
    }
    parts.push(source.slice(chunkStart, at));
    this.offset = at + 1;
    return parts.join('');
  }

  /**
   * At `$` or `%`: `$${` and `%%{` stand for a literal `${` and `%{` (returned); `${` and `%{` open an
   * interpolation or directive, which a config of data does not evaluate.
   */
  private templateSequence(at: number): string | undefined {
    const { source } = this;
    const char = source[at];
    if (char !== '$' && char !== '%') return undefined;
    if (source[at + 1] === '{') {
      throw this.error(this.position(at), 'interpolation (${…} or %{…}) is not supported in the config; write "$${" for a literal "${"');
    }
    return source[at + 1] === char && source[at + 2] === '{' ? `${char}{` : undefined;
  }

  private escape(at: number): { value: string; length: number } {
    const pos = this.position(at);
    const kind = this.source[at + 1];
    const simple = kind === undefined ? undefined : SIMPLE_ESCAPES[kind];
    if (simple !== undefined) return { value: simple, length: 2 };
    const digits = kind === 'u' ? 4 : kind === 'U' ? 8 : 0;
    const hex = this.source.slice(at + 2, at + 2 + digits);
    // Named as the grammar this replaced named them: the backslash is where the string stops making sense.
    if (digits === 0 || !/^[0-9a-fA-F]+$/.test(hex) || hex.length !== digits) throw this.error(pos, 'syntax error: unexpected "\\"');
    const codePoint = parseInt(hex, 16);
    // A lone surrogate would be written out as U+FFFD: a silent change, so it is refused like an invalid escape.
    if (codePoint > 0x10ffff || (codePoint >= 0xd800 && codePoint <= 0xdfff)) {
      throw this.error(pos, 'invalid escape: not a Unicode scalar value (the range is \\u0000-\\uD7FF, \\uE000-\\uFFFF, \\U00010000-\\U0010FFFF)');
    }
    return { value: String.fromCodePoint(codePoint), length: 2 + digits };
  }

  /**
   * `<<MARKER` or `<<-MARKER` and a new line, then lines up to one that holds only the marker (spaces and tabs
   * around it allowed), which a new line must end. The lines are kept as written (CR included); `<<-` takes
   * their common indentation off. Escapes are not read in a heredoc; `$${` and `%%{` are.
   */
  private heredoc(): string {
    const { source } = this;
    const open = this.position();
    const strip = source[this.offset + 2] === '-';
    this.offset += strip ? 3 : 2;
    const marker = this.match(IDENTIFIER);
    const afterMarker = source[this.offset] === '\r' ? this.offset + 1 : this.offset;
    if (marker === undefined || source[afterMarker] !== '\n') {
      throw this.error(open, 'syntax error: a heredoc starts with <<MARKER or <<-MARKER and a new line');
    }
    this.newLineAt(afterMarker);
    const lines: string[] = [];
    let at = afterMarker + 1;
    for (;;) {
      const end = source.indexOf('\n', at);
      if (end === -1) {
        const last = source.slice(at);
        if (last.trim() === marker) throw this.error(this.position(at), 'syntax error: the line that closes a heredoc must end with a new line');
        throw this.error(open, 'syntax error: this heredoc is never closed by a line holding only its marker');
      }
      const line = source.slice(at, end);
      const cr = line.indexOf('\r');
      if (cr !== -1 && cr !== line.length - 1) throw this.error(this.position(at + cr), LONE_CR);
      if (trimmedEquals(line, marker)) {
        this.offset = end;
        if (source[end - 1] === '\r') this.offset--;
        break;
      }
      this.checkTemplateSequences(line, at);
      lines.push(line);
      this.newLineAt(end);
      at = end + 1;
    }
    let body = lines;
    if (strip) {
      // As HCL: a line of spaces only neither counts nor loses its spaces.
      const blank = (l: string) => ONLY_SPACE.test(l);
      const indents = lines.filter((l) => !blank(l)).map((l) => LEADING_SPACE.exec(l)![0].length);
      const indent = indents.reduce((a, b) => Math.min(a, b), Infinity);
      if (Number.isFinite(indent) && indent > 0) body = lines.map((l) => (blank(l) ? l : l.slice(indent)));
    }
    return body.map((l) => l.replace(/\$\$\{/g, '${').replace(/%%\{/g, '%{')).join('\n') + (body.length ? '\n' : '');
  }

  /** Refuses `${` and `%{` in a heredoc line that starts at `offset`. */
  private checkTemplateSequences(line: string, offset: number): void {
    for (let i = 0; i < line.length; i++) {
      const char = line[i];
      if ((char === '$' || char === '%') && this.templateSequence(offset + i) !== undefined) i += 2;
    }
  }
}

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = { n: '\n', r: '\r', t: '\t', '"': '"', '\\': '\\' };

/** Whether `line` is `marker` with only spaces (a CR among them) around it. */
function trimmedEquals(line: string, marker: string): boolean {
  const start = LEADING_SPACE.exec(line)![0].length;
  return line.startsWith(marker, start) && ONLY_SPACE.test(line.slice(start + marker.length));
}
