import type { LocatedNode } from './located.js';
import { configSyntaxError } from './syntax-error.js';

/** Real configs nest a handful of levels; this keeps every recursive step over a config far from the stack limit. */
export const MAX_NESTING = 64;

/**
 * A config is a few kilobytes. 1 MiB leaves room for many inline templates while bounding the parser's memory:
 * 100 MB of whitespace made the HCL parser take 2.2 GB and abort.
 */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/**
 * The config text as the parsers should see it: a leading byte-order mark (Windows editors) dropped, and refused
 * when it is too large or holds a NUL character, which no option can carry (paths, commands, headers and variable
 * names cannot hold one) and which some parsers read as the end of the text.
 */
export function checkConfigSource(source: string, file: string): string {
  const text = source.charCodeAt(0) === 0xfeff ? source.slice(1) : source;
  if (text.length > MAX_CONFIG_BYTES / 4 && Buffer.byteLength(text, 'utf8') > MAX_CONFIG_BYTES) {
    throw configSyntaxError(file, { line: 1, column: 1 }, `the config is larger than ${MAX_CONFIG_BYTES / 1024 / 1024} MiB`, 'move large template contents into template files (source = "…")');
  }
  const nul = text.indexOf('\0');
  if (nul !== -1) {
    const before = text.slice(0, nul);
    const position = { line: before.split('\n').length, column: nul - before.lastIndexOf('\n') };
    throw configSyntaxError(file, position, 'a NUL character is not allowed in a config (is this a binary file?)');
  }
  return text;
}

/**
 * Refuses a NUL character written as an escape ("\u0000") anywhere but in template contents: a path, command,
 * header or URL holding one fails deep inside Node with an uncoded error, or is cut short.
 */
export function checkNoNulValues(node: LocatedNode, file: string, key = ''): void {
  if (node.kind === 'scalar') {
    if (typeof node.value === 'string' && node.value.includes('\0') && key !== 'contents') {
      throw configSyntaxError(file, node.pos, 'a NUL character (\\u0000) is allowed only in template contents');
    }
  } else if (node.kind === 'array') {
    for (const item of node.items) checkNoNulValues(item, file, key);
  } else {
    for (const [name, entry] of node.entries) checkNoNulValues(entry.node, file, name);
  }
}
