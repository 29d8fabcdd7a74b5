/*
 * Writing Handlebars source that means exactly what the translator intends: string and number literals Handlebars'
 * lexer reads back as the same value, text that holds no accidental mustache, and block tags that Handlebars'
 * "standalone line" rule cannot strip (Go keeps every byte around its actions; Handlebars drops a block tag's
 * whole line when the tag stands alone on it).
 */

/** Thrown when a value has no Handlebars spelling; the translator reports the construct. */
export class NotExpressible extends Error {}

/** A Handlebars string literal for `value`, or NotExpressible. */
export function hbString(value: string): string {
  // Handlebars' lexer knows one escape only, \" (or \' in single quotes): no way to write a backslash before a quote.
  for (const quote of ['"', "'"]) {
    if (value.endsWith('\\')) break;
    if (value.includes(`\\${quote}`)) continue;
    return `${quote}${value.split(quote).join(`\\${quote}`)}${quote}`;
  }
  throw new NotExpressible('a string with a backslash before a quote or at its end');
}

/** A Handlebars number literal (decimal, optional sign and fraction), or NotExpressible. */
export function hbNumber(value: number): string {
  const text = String(value);
  if (!/^-?[0-9]+(?:\.[0-9]+)?$/.test(text)) throw new NotExpressible(`the number ${text}`);
  return text;
}

/** A path segment: `name`, or `[name]` when it is not a plain identifier. */
export function hbSegment(name: string): string {
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && name !== 'this') return name;
  if (/[\]\s]/.test(name)) throw new NotExpressible(`the key ${JSON.stringify(name)}`);
  return `[${name}]`;
}

export type Piece =
  | { readonly type: 'text'; readonly text: string }
  /** `open`: `{{#…}}`, `else`: `{{else…}}`, `close`: `{{/…}}`, `inline`: any other mustache. */
  | { readonly type: 'tag'; readonly text: string; readonly role: 'open' | 'else' | 'close' | 'inline' };

/** An empty comment: a statement that is not text, which stops a block tag from being standalone. */
const GUARD = '{{!}}';

/** The pieces as Handlebars source. */
export function assemble(pieces: readonly Piece[]): string {
  const merged = mergeText(pieces);
  let out = '';
  for (let i = 0; i < merged.length; i++) {
    const piece = merged[i] as Piece;
    if (piece.type === 'text') {
      out += escapeText(piece.text, merged[i + 1] !== undefined);
      continue;
    }
    const prev = merged[i - 1];
    const next = merged[i + 1];
    // Standalone needs whitespace up to a line break inside the block, next to the tag: a guard there prevents it.
    if ((piece.role === 'else' || piece.role === 'close') && prev?.type === 'text' && /\n\s*$/.test(prev.text)) out += GUARD;
    out += piece.text;
    if ((piece.role === 'open' || piece.role === 'else') && next?.type === 'text' && /^\s*\n/.test(next.text)) out += GUARD;
  }
  return out;
}

function mergeText(pieces: readonly Piece[]): Piece[] {
  const out: Piece[] = [];
  for (const piece of pieces) {
    const last = out[out.length - 1];
    if (piece.type === 'text' && piece.text.length === 0) continue;
    if (piece.type === 'text' && last?.type === 'text') out[out.length - 1] = { type: 'text', text: last.text + piece.text };
    else out.push(piece);
  }
  return out;
}

/**
 * Text as Handlebars content: each `{{` becomes a mustache printing it, and a backslash right before a mustache
 * is doubled (Handlebars reads `\{{` as an escaped mustache and `\\{{` as one backslash and a mustache).
 */
function escapeText(text: string, beforeMustache: boolean): string {
  const parts = text.split('{{');
  let out = '';
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string;
    const last = i === parts.length - 1;
    out += !last || beforeMustache ? (part.endsWith('\\') ? `${part}\\` : part) : part;
    // A literal as a mustache's whole body would be looked up as a name: printf prints it instead.
    if (!last) out += '{{printf "{{"}}';
  }
  return out;
}
