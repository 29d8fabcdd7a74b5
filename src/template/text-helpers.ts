import type { HelperOptions } from 'handlebars';
import { define, helperError, reserve, textOf, type Body } from './helper-kit.js';
import { renderTooLarge, type RenderState } from './render-state.js';
import { derivedLabel, originOf, taintValue } from './taint.js';

/*
 * String helpers with consul-template's semantics (its replaceAll, split, join, toUpper, toLower, trimSpace,
 * contains, printf), written value first: `{{replace v "a" "b"}}`. Each result is sized before it is built.
 */

function replace(state: RenderState, [value, from, to]: unknown[], options: HelperOptions): string {
  const text = textOf(state, value, 'replace', options);
  const a = textOf(state, from, 'replace (what to replace)', options);
  const b = textOf(state, to, 'replace (replacement)', options);
  // Go's ReplaceAll with an empty pattern inserts the replacement between every character (and at both ends).
  const count = a.length === 0 ? [...text].length + 1 : text.split(a).length - 1;
  reserve(state, text.length + count * Math.max(0, b.length - a.length));
  if (a.length === 0) return b + [...text].join(b) + (text.length > 0 ? b : '');
  return text.split(a).join(b);
}

function split(state: RenderState, [value, separator]: unknown[], options: HelperOptions): string[] {
  const text = textOf(state, value, 'split', options).replace(/^[\s\u0085\u00a0]+|[\s\u0085\u00a0]+$/g, '');
  const sep = textOf(state, separator, 'split (separator)', options);
  state.charge(Math.floor(text.length / 1024));
  if (text === '') return [];
  // Each part costs a unit, counted before the list is built: a large text split into characters stops here.
  let parts = 1;
  if (sep === '') parts = text.length;
  else for (let at = text.indexOf(sep); at !== -1; at = text.indexOf(sep, at + sep.length)) parts++;
  state.charge(parts);
  // Go's Split with an empty separator splits into characters.
  return sep === '' ? [...text] : text.split(sep);
}

function join(state: RenderState, [list, separator]: unknown[], options: HelperOptions): string {
  if (!Array.isArray(list)) throw helperError(options, 'SIDECAR_ERR_RENDER_FAILED', 'join takes a list and a separator');
  const sep = textOf(state, separator, 'join (separator)', options);
  const parts = list.map((item) => textOf(state, item, 'join', options));
  reserve(state, parts.reduce((n, p) => n + p.length, 0) + sep.length * Math.max(0, parts.length - 1));
  return parts.join(sep);
}

/**
 * Go's ToUpper/ToLower map each character on its own (Unicode's simple case mapping): "ß" stays "ß", "İ" lowers
 * to "i" and a final "Σ" to "σ", where JavaScript's full mapping gives "SS", "i̇" and "ς".
 */
function upper(state: RenderState, [value]: unknown[], options: HelperOptions): string {
  const text = textOf(state, value, 'upper', options);
  reserve(state, text.length);
  return text.replace(/[a-z]+|[^\0-\x7f]/gu, (c) => {
    if (c.length > 1 || c < '\x80') return c.toUpperCase();
    const mapped = c.toUpperCase();
    return [...mapped].length === 1 ? mapped : c;
  });
}

function lower(state: RenderState, [value]: unknown[], options: HelperOptions): string {
  const text = textOf(state, value, 'lower', options);
  reserve(state, text.length);
  // The one character whose full lowercase is longer (U+0130 → "i" + U+0307) lowers to its first: "i".
  return text.replace(/[A-Z]+|[^\0-\x7f]/gu, (c) =>
    c.length > 1 || c < '\x80' ? c.toLowerCase() : String.fromCodePoint(c.toLowerCase().codePointAt(0) as number),
  );
}

/** Go's strings.TrimSpace: Unicode white space, U+0085 and U+00A0 included. */
function trimSpace(state: RenderState, [value]: unknown[], options: HelperOptions): string {
  return textOf(state, value, 'trimSpace', options).replace(/^[\s\u0085]+|[\s\u0085]+$/g, '');
}

/** Text containing a substring, or a list containing an element. */
function contains(state: RenderState, [haystack, needle]: unknown[], options: HelperOptions): boolean {
  if (Array.isArray(haystack)) {
    state.charge(Math.floor(haystack.length / 32));
    return haystack.some((item) => item === needle);
  }
  return textOf(state, haystack, 'contains', options).includes(textOf(state, needle, 'contains (what to find)', options));
}

/** Go's fmt verbs for plain values: %s and %v (text), %d (integers), %q (quoted), %t (true/false), %%. */
function printf(state: RenderState, [format, ...args]: unknown[], options: HelperOptions): string {
  const fmt = textOf(state, format, 'printf (format)', options);
  let next = 0;
  // Sized as it is built: many verbs over a large value would otherwise build a string past what memory holds.
  let size = fmt.length;
  const out = fmt.replace(/%([^a-zA-Z%]*)([a-zA-Z%])/g, (whole, flags: string, verb: string) => {
    if (verb === '%' && flags === '') return '%';
    if (flags !== '' || !'sdvqt'.includes(verb)) {
      // A format computed from a secret is not quoted, not even the piece that failed.
      const which = originOf(state, format) === undefined ? `, not ${whole}` : '';
      throw helperError(options, 'SIDECAR_ERR_RENDER_FAILED', `printf supports %s, %d, %v, %q, %t and %% only${which}`);
    }
    if (next >= args.length) throw helperError(options, 'SIDECAR_ERR_RENDER_FAILED', `printf has more verbs than arguments (${args.length})`);
    const piece = formatOne(state, verb, args[next++], options);
    size += piece.length;
    if (size > state.maxBytes) throw renderTooLarge(state.name, state.maxBytes);
    return piece;
  });
  if (next < args.length) throw helperError(options, 'SIDECAR_ERR_RENDER_FAILED', `printf was given ${args.length} arguments for ${next} verbs`);
  reserve(state, out.length);
  return out;
}

function formatOne(state: RenderState, verb: string, value: unknown, options: HelperOptions): string {
  switch (verb) {
    case 'd':
      if (typeof value !== 'number' || !Number.isInteger(value)) throw helperError(options, 'SIDECAR_ERR_RENDER_FAILED', 'printf %d takes a whole number');
      return value.toFixed(0);
    case 't':
      if (typeof value !== 'boolean') throw helperError(options, 'SIDECAR_ERR_RENDER_FAILED', 'printf %t takes true or false');
      return String(value);
    case 'q':
      return goStrconvQuote(textOf(state, value, 'printf %q', options));
    default:
      if (value === null || value === undefined) return '<nil>';
      return textOf(state, value, `printf %${verb}`, options);
  }
}

const QUOTE_SHORT: Readonly<Record<string, string>> = {
  '"': '\\"',
  '\\': '\\\\',
  '\x07': '\\a',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\v': '\\v',
};

/** Go's strconv.Quote (%q): printable characters as they are, others as \a…\v, \xXX, \uXXXX or \UXXXXXXXX. */
function goStrconvQuote(text: string): string {
  const escaped = text.replace(/[^\p{L}\p{M}\p{N}\p{P}\p{S} ]|["\\]/gu, (c) => {
    const short = QUOTE_SHORT[c];
    if (short !== undefined) return short;
    const code = c.codePointAt(0) as number;
    // A lone surrogate is not UTF-8: Go's JSON decoder made it U+FFFD, which prints.
    if (code >= 0xd800 && code <= 0xdfff) return '\ufffd';
    if (code < 0x80) return `\\x${code.toString(16).padStart(2, '0')}`;
    return code < 0x10000 ? `\\u${code.toString(16).padStart(4, '0')}` : `\\U${code.toString(16).padStart(8, '0')}`;
  });
  return `"${escaped}"`;
}

/**
 * In a dry run a secret is a placeholder; text built from one (`printf "vault:dir/%s" name`) is computed from the
 * real value and shown as a placeholder of its own, which a reference computed from it reads as the real text.
 */
function maskAware(body: Body): Body {
  return (state, args, options) => {
    if (!state.options.mask) return body(state, args, options);
    const placeholder = args.find((a): a is string => typeof a === 'string' && state.masks.has(a));
    if (placeholder === undefined) return body(state, args, options);
    const origin = originOf(state, placeholder) ?? placeholder;
    const result = body(
      state,
      args.map((a) => (typeof a === 'string' && state.masks.has(a) ? state.masks.get(a) : a)),
      options,
    );
    const remask = (value: unknown): unknown => {
      if (Array.isArray(value)) return value.map(remask);
      if (typeof value !== 'string') return value;
      taintValue(state, value, origin);
      if (value.length >= 4) state.leaves.add(value);
      const shown = `<masked:${derivedLabel(origin)} ${state.masks.size}>`;
      state.masks.set(shown, value);
      taintValue(state, shown, origin);
      return shown;
    };
    return remask(result);
  };
}

export const TEXT_HELPERS = {
  replace: define('replace', maskAware(replace)),
  split: define('split', maskAware(split)),
  join: define('join', join),
  upper: define('upper', maskAware(upper)),
  lower: define('lower', maskAware(lower)),
  trimSpace: define('trimSpace', maskAware(trimSpace)),
  contains: define('contains', contains),
  printf: define('printf', maskAware(printf)),
} as const;
