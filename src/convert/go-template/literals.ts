import { GoTemplateSyntaxError, type Position } from './lexer.js';

const SIMPLE: Readonly<Record<string, string>> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', '"': '"', "'": "'" };

/** The value of a Go interpreted string literal (`"…"` with Go's escapes: \n, \xHH, \uHHHH, \UHHHHHHHH, \ooo). */
export function unquoteGoString(quoted: string, pos: Position): string {
  const body = quoted.slice(1, -1);
  let out = '';
  let bytes: number[] = [];
  const flush = (): void => {
    if (bytes.length === 0) return;
    // \x and octal escapes are bytes: a run of them decodes as UTF-8, as Go's string holds them.
    out += Buffer.from(bytes).toString('utf8');
    bytes = [];
  };
  for (let i = 0; i < body.length; i++) {
    const ch = body[i] as string;
    if (ch !== '\\') {
      flush();
      out += ch;
      continue;
    }
    const e = body[i + 1] ?? '';
    const bad = (): never => {
      // The string itself is not quoted: templates hold passwords written in them, and the report goes to a terminal.
      throw new GoTemplateSyntaxError(`invalid escape \\${e} in a string`, pos);
    };
    if (e in SIMPLE) {
      flush();
      out += SIMPLE[e];
      i++;
    } else if (e === 'x') {
      const hex = body.slice(i + 2, i + 4);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) bad();
      bytes.push(parseInt(hex, 16));
      i += 3;
    } else if (/[0-7]/.test(e)) {
      const oct = body.slice(i + 1, i + 4);
      if (!/^[0-7]{3}$/.test(oct) || parseInt(oct, 8) > 255) bad();
      bytes.push(parseInt(oct, 8));
      i += 3;
    } else if (e === 'u' || e === 'U') {
      const width = e === 'u' ? 4 : 8;
      const hex = body.slice(i + 2, i + 2 + width);
      const code = parseInt(hex, 16);
      if (!new RegExp(`^[0-9a-fA-F]{${width}}$`).test(hex) || code > 0x10ffff || (code >= 0xd800 && code < 0xe000)) bad();
      flush();
      out += String.fromCodePoint(code);
      i += 1 + width;
    } else bad();
  }
  flush();
  return out;
}
