/*
 * JSON as Go's encoding/json writes it (what consul-template's toJSON and toJSONPretty print): map keys sorted by
 * their UTF-8 bytes, `<`, `>` and `&` escaped as \u003c, \u003e and \u0026, U+2028 and U+2029 escaped, the
 * short escapes \b \f \n \r \t, other control characters as \u00XX; MarshalIndent's layout with two spaces.
 */

/** Compares strings by Unicode code point, which is UTF-8 byte order (UTF-16 units differ above U+E000). */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i) as number;
    const y = b.codePointAt(i) as number;
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

/** Sorted keys of a plain object, as Go ranges over a map. */
export function sortedKeys(value: object): string[] {
  return Object.keys(value).sort(compareCodePoints);
}

const SHORT: Readonly<Record<string, string>> = { '"': '\\"', '\\': '\\\\', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

export function goQuote(text: string): string {
  // eslint-disable-next-line no-control-regex
  return `"${text.replace(/["\\\u0000-\u001f<>&\u2028\u2029]/g, (c) => SHORT[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}"`;
}

/** Go's float64 formatting in JSON: like JavaScript's, with exponents written e-7 / e+21 (no leading zero). */
function goNumber(value: number): string {
  if (!Number.isFinite(value)) throw new TypeError(`json: unsupported value: ${value}`);
  return String(value);
}

/** `indent`: undefined for compact (Marshal), else the indent unit (MarshalIndent with prefix ""). */
export function goJSON(value: unknown, indent?: string, visit: (value: unknown) => void = () => undefined): string {
  const write = (v: unknown, depth: number): string => {
    visit(v);
    if (v === null || v === undefined) return 'null';
    if (typeof v === 'string') return goQuote(v);
    if (typeof v === 'number') return goNumber(v);
    if (typeof v === 'boolean') return String(v);
    if (typeof v !== 'object' || v instanceof Uint8Array) throw new TypeError(`json: unsupported type ${typeof v}`);
    const inner = indent === undefined ? '' : `\n${indent.repeat(depth + 1)}`;
    const outer = indent === undefined ? '' : `\n${indent.repeat(depth)}`;
    const colon = indent === undefined ? ':' : ': ';
    const items = Array.isArray(v)
      ? v.map((item) => write(item, depth + 1))
      : sortedKeys(v).map((k) => `${goQuote(k)}${colon}${write((v as Record<string, unknown>)[k], depth + 1)}`);
    const [open, close] = Array.isArray(v) ? ['[', ']'] : ['{', '}'];
    return items.length === 0 ? `${open}${close}` : `${open}${inner}${items.join(`,${inner}`)}${outer}${close}`;
  };
  return write(value, 0);
}
