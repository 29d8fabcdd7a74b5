import { parseTree, printParseErrorCode, type Node as JsonNode, type ParseError } from 'jsonc-parser';
import type { LocatedEntry, LocatedNode, Position } from './located.js';
import { MAX_NESTING } from './source-limits.js';
import { configSyntaxError } from './syntax-error.js';

/** Parses a JSON config into a located tree. Strict JSON: no comments, no trailing commas. */
export function parseJsonConfig(source: string, file: string): LocatedNode {
  const lineStarts = computeLineStarts(source);
  const toPos = (offset: number): Position => offsetToPosition(lineStarts, offset);
  // Before the parser, which recurses once per level: 100,000 nested arrays would overflow the stack.
  const tooDeep = firstTooDeep(source);
  if (tooDeep !== undefined) throw configSyntaxError(file, toPos(tooDeep), `arrays and objects are nested more than ${MAX_NESTING} levels deep here`);
  const errors: ParseError[] = [];
  const root = parseTree(source, errors, { allowTrailingComma: false, disallowComments: true, allowEmptyContent: false });
  const first = errors[0];
  if (first) throw configSyntaxError(file, toPos(first.offset), `invalid JSON: ${printParseErrorCode(first.error)}`);
  if (!root) throw configSyntaxError(file, { line: 1, column: 1 }, 'invalid JSON: the file is empty');
  return convert(root, toPos, file);
}

function convert(node: JsonNode, toPos: (offset: number) => Position, file: string): LocatedNode {
  const pos = toPos(node.offset);
  switch (node.type) {
    case 'object': {
      const entries = new Map<string, LocatedEntry>();
      for (const property of node.children ?? []) {
        const [keyNode, valueNode] = property.children ?? [];
        if (!keyNode || !valueNode) continue;
        const key = String(keyNode.value);
        const keyPos = toPos(keyNode.offset);
        if (entries.has(key)) throw configSyntaxError(file, keyPos, `duplicate key "${key}"`);
        entries.set(key, { keyPos, node: convert(valueNode, toPos, file) });
      }
      return { kind: 'object', pos, entries };
    }
    case 'array':
      return { kind: 'array', pos, items: (node.children ?? []).map((item) => convert(item, toPos, file)) };
    case 'string':
    case 'number':
    case 'boolean':
    case 'null':
      return { kind: 'scalar', pos, value: node.value as string | number | boolean | null };
    default:
      throw configSyntaxError(file, pos, `unexpected JSON node ${node.type}`);
  }
}

/** The offset of the first bracket that opens a level past MAX_NESTING, outside strings; undefined if none. */
function firstTooDeep(source: string): number | undefined {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < source.length; i++) {
    const c = source.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > MAX_NESTING) return i;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return undefined;
}

export function computeLineStarts(source: string): number[] {
  const starts = [0];
  for (let i = 0; i < source.length; i++) if (source.charCodeAt(i) === 10) starts.push(i + 1);
  return starts;
}

export function offsetToPosition(lineStarts: readonly number[], offset: number): Position {
  let low = 0;
  let high = lineStarts.length - 1;
  while (low < high) {
    const mid = (low + high + 1) >> 1;
    if ((lineStarts[mid] ?? 0) <= offset) low = mid;
    else high = mid - 1;
  }
  return { line: low + 1, column: offset - (lineStarts[low] ?? 0) + 1 };
}
