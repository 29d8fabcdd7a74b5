import { parseTree, type Node, type ParseError } from 'jsonc-parser';
import { SidecarError } from '../../errors.js';

/** A string value that ejson encrypts: where it is in the text, and where in the document (for messages). */
export interface EjsonValue {
  readonly offset: number;
  readonly length: number;
  readonly value: string;
  readonly path: string;
}

export interface EjsonDocument {
  /** The text as parsed: raw newlines inside strings escaped, as ejson does before anything else. */
  readonly text: string;
  readonly publicKey: string;
  /** Every value ejson encrypts, in document order. */
  readonly values: readonly EjsonValue[];
}

/**
 * Parses an ejson file. Which values are secret follows Shopify's walker exactly: a string value is encrypted
 * unless the key read most recently before it (in document order) starts with "_"; the underscore does not
 * reach into nested objects, and array elements follow the key before them.
 */
export function parseEjson(raw: string, file: string): EjsonDocument {
  const text = escapeNewlinesInStrings(raw);
  const errors: ParseError[] = [];
  const root = parseTree(text, errors, { disallowComments: true, allowTrailingComma: false });
  if (!root || errors.length > 0 || root.type !== 'object') {
    throw malformed(file, errors[0] === undefined ? 'is not a JSON object' : `is not valid JSON (${position(text, errors[0].offset)})`);
  }
  const publicKey = root.children?.find((p) => p.children?.[0]?.value === '_public_key')?.children?.[1];
  if (publicKey?.type !== 'string' || !/^[0-9a-f]{64}$/i.test(String(publicKey.value))) {
    throw malformed(file, 'has no "_public_key" of 64 hex digits at its top level');
  }
  const values: EjsonValue[] = [];
  let underscore = false;
  const walk = (node: Node, path: string) => {
    if (node.type === 'object') {
      for (const property of node.children ?? []) {
        const [key, value] = property.children ?? [];
        underscore = String(key?.value).startsWith('_');
        if (value) walk(value, path ? `${path}.${String(key?.value)}` : String(key?.value));
      }
    } else if (node.type === 'array') {
      (node.children ?? []).forEach((element, i) => walk(element, `${path}[${i}]`));
    } else if (node.type === 'string' && !underscore) {
      values.push({ offset: node.offset, length: node.length, value: String(node.value), path });
    }
  };
  walk(root, '');
  return { text, publicKey: String(publicKey.value).toLowerCase(), values };
}

/** The text with each listed value replaced (by JSON-quoted text), the rest byte for byte as it was. */
export function replaceValues(text: string, replacements: readonly { readonly at: EjsonValue; readonly with: string }[]): string {
  let out = text;
  for (const { at, with: value } of [...replacements].sort((a, b) => b.at.offset - a.at.offset)) {
    out = out.slice(0, at.offset) + JSON.stringify(value) + out.slice(at.offset + at.length);
  }
  return out;
}

/** JSON has no multi-line strings; ejson accepts pasted ones by escaping raw newlines inside string literals. */
function escapeNewlinesInStrings(text: string): string {
  let out = '';
  let inString = false;
  let escaped = false;
  for (const c of text) {
    if (inString && (c === '\n' || c === '\r')) {
      out += c === '\n' ? '\\n' : '\\r';
      escaped = false;
      continue;
    }
    out += c;
    if (!inString) inString = c === '"';
    else if (escaped) escaped = false;
    else if (c === '\\') escaped = true;
    else if (c === '"') inString = false;
  }
  return out;
}

function position(text: string, offset: number): string {
  const before = text.slice(0, offset);
  return `line ${before.split('\n').length}, column ${offset - before.lastIndexOf('\n')}`;
}

function malformed(file: string, what: string): SidecarError {
  return new SidecarError('SIDECAR_ERR_BACKEND_MALFORMED', `${file} ${what}`, {
    retryable: false,
    hint: 'an ejson file is a JSON object with "_public_key" and values encrypted by `secrets-sidecar ejson encrypt`',
  });
}
