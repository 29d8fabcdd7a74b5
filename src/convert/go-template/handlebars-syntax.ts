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
      out += escapeText(piece.text, i > 0, merged[i + 1] !== undefined);
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
 * Text as Handlebars content. A run of braces that holds `{{`, starts the text right after a mustache (`}}}` would
 * close a triple-stash) or ends it right before one (`{{{` would open one) is printed by printf instead; a
 * backslash right before a mustache is doubled (Handlebars reads `\{{` as an escaped mustache).
 */
function escapeText(text: string, afterMustache: boolean, beforeMustache: boolean): string {
  let out = '';
  let from = 0;
  const literal = (end: number, nextIsMustache: boolean): void => {
    const part = text.slice(from, end);
    out += nextIsMustache && part.endsWith('\\') ? `${part}\\` : part;
  };
  for (const match of text.matchAll(/[{}]+/g)) {
    const run = match[0];
    const at = match.index;
    const end = at + run.length;
    const risky = run.includes('{{') || (at === 0 && afterMustache && run.startsWith('}')) || (end === text.length && beforeMustache && run.endsWith('{'));
    if (!risky) continue;
    literal(at, true);
    // A literal as a mustache's whole body would be looked up as a name: printf prints it instead.
    out += `{{printf "${run}"}}`;
    from = end;
  }
  literal(text.length, beforeMustache);
  return out;
}
