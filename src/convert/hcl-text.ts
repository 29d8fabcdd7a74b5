/**
 * HCL text for values the converter writes. Every string goes through `hclString`: a value taken from a peer
 * config ("${HOME}", a quote, a newline) must come back from our parser as exactly the same text, never as an
 * interpolation or a broken file.
 */
export function hclString(value: string): string {
  let out = '"';
  for (const char of value) {
    const code = char.codePointAt(0) ?? 0;
    if (char === '"') out += '\\"';
    else if (char === '\\') out += '\\\\';
    else if (char === '\n') out += '\\n';
    else if (char === '\r') out += '\\r';
    else if (char === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f || code === 0x2028 || code === 0x2029) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += char;
  }
  // "${" and "%{" would open an interpolation; "$${" and "%%{" are HCL's escapes, but "%%%{" trips the grammar.
  // A Unicode escape for the "$" or "%" is read back as the character, and opens nothing.
  return `${out.replace(/([$%])\{/g, (_m, sign: string) => `\\u00${sign === '$' ? '24' : '25'}{`)}"`;
}

export function hclList(values: readonly string[]): string {
  return `[${values.map(hclString).join(', ')}]`;
}

export type HclValue = string | number | boolean | readonly string[];

/** `key = value` lines for the defined entries, indented. */
export function hclAttributes(entries: ReadonlyArray<readonly [string, HclValue | undefined]>, indent: string): string {
  return entries
    .filter((e): e is readonly [string, HclValue] => e[1] !== undefined)
    .map(([key, value]) => `${indent}${key} = ${format(value)}\n`)
    .join('');
}

function format(value: HclValue): string {
  if (typeof value === 'string') return hclString(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return hclList(value);
}
