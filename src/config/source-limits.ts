import type { LocatedNode, Position } from './located.js';
import { configSyntaxError } from './syntax-error.js';

/** Real configs nest a handful of levels; this keeps every recursive step over a config far from the stack limit. */
export const MAX_NESTING = 64;

/**
 * The most syntax nodes an HCL config may parse into: sidecar.example.hcl has about 1,250, and a hundred inline
 * templates stay far below. Past it, turning the tree into values costs seconds and hundreds of megabytes
 * (a 1 MB list of numbers: 2 million nodes, 9 s, 870 MB).
 */
export const MAX_SYNTAX_NODES = 200_000;

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
    throw configSyntaxError(
      file,
      { line: 1, column: 1 },
      `the config is larger than ${MAX_CONFIG_BYTES / 1024 / 1024} MiB`,
      'move large template contents into template files (source = "…")',
    );
  }
  const nul = text.indexOf('\0');
  if (nul !== -1) throw configSyntaxError(file, positionAt(text, nul), 'a NUL character is not allowed in a config (is this a binary file?)');
  const broken = LONE_SURROGATE.exec(text);
  if (broken) throw configSyntaxError(file, positionAt(text, broken.index), 'the config is not valid UTF-8 here');
  return text;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function positionAt(text: string, offset: number): Position {
  const before = text.slice(0, offset);
  return { line: before.split('\n').length, column: offset - before.lastIndexOf('\n') };
}

/**
 * The file's bytes as text. Invalid UTF-8 is refused at its position rather than turned into U+FFFD, which would
 * be written into a destination as different bytes than the config holds.
 */
export function decodeConfig(bytes: Buffer, file: string): string {
  const text = bytes.toString('utf8');
  if (!text.includes('\uFFFD')) return text;
  const again = Buffer.from(text, 'utf8');
  let at = 0;
  while (at < bytes.length && bytes[at] === again[at]) at++;
  if (at === bytes.length && again.length === bytes.length) return text; // a real U+FFFD, written as such
  throw configSyntaxError(
    file,
    positionAt(bytes.subarray(0, at).toString('utf8'), bytes.subarray(0, at).toString('utf8').length),
    'the config is not valid UTF-8 here',
  );
}

/**
 * Refuses what escapes can put into a value that the text itself may not hold: a NUL character ("\u0000")
 * anywhere but in template contents (a path, command, header or URL holding one fails deep inside Node with an
 * uncoded error, or is cut short), and a lone surrogate (JSON's "\uD800"), which would be written out as U+FFFD.
 */
export function checkValueCharacters(node: LocatedNode, file: string, key = ''): void {
  if (node.kind === 'scalar') {
    if (typeof node.value !== 'string') return;
    if (node.value.includes('\0') && key !== 'contents')
      throw configSyntaxError(file, node.pos, 'a NUL character (\\u0000) is allowed only in template contents');
    if (LONE_SURROGATE.test(node.value))
      throw configSyntaxError(
        file,
        node.pos,
        'invalid escape: a lone surrogate is not a character (write a character outside the BMP as one pair, or as itself)',
      );
  } else if (node.kind === 'array') {
    for (const item of node.items) checkValueCharacters(item, file, key);
  } else {
    for (const [name, entry] of node.entries) checkValueCharacters(entry.node, file, name);
  }
}
