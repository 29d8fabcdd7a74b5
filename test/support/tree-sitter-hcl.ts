import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { Parser, Node as SyntaxNode } from 'web-tree-sitter';
import type { LocatedEntry, LocatedNode, Position } from '../../src/config/located.js';
import { MAX_NESTING, MAX_SYNTAX_NODES } from '../../src/config/source-limits.js';
import { configSyntaxError } from '../../src/config/syntax-error.js';

/*
 * HCL2 is parsed by the tree-sitter HCL grammar (a real HCL2 parser, run as WebAssembly so that no native build
 * is needed). This module only turns its syntax tree into values: a config is data, so interpolation, variables,
 * function calls and operators are rejected with their position rather than evaluated.
 */

let parserPromise: Promise<Parser> | undefined;

async function loadParser(): Promise<Parser> {
  // Imported here, not at the top: the start-up snapshot (scripts/build-snapshot.mjs) holds no package from
  // node_modules, only what the bundle carries; the grammar's WebAssembly is instantiated at run time anyway.
  const { Language, Parser } = await import('web-tree-sitter');
  await Parser.init();
  const require = createRequire(import.meta.url);
  const wasm = await readFile(require.resolve('@tree-sitter-grammars/tree-sitter-hcl/tree-sitter-hcl.wasm'));
  const parser = new Parser();
  parser.setLanguage(await Language.load(wasm));
  return parser;
}

export async function parseHclWithTreeSitter(source: string, file: string): Promise<LocatedNode> {
  parserPromise ??= loadParser();
  const parser = await parserPromise;
  const tree = parser.parse(source);
  if (!tree) throw configSyntaxError(file, { line: 1, column: 1 }, 'the HCL parser returned no tree');
  try {
    const root = tree.rootNode;
    // Before anything recurses over the tree (100,000 nested blocks would overflow the stack) or converts it.
    checkShape(root, file);
    if (root.hasError) throw describeSyntaxError(root, file);
    const converter = new HclConverter(source, file);
    const body = root.namedChildren.find((node) => node?.type === 'body');
    const object = root.namedChildren.find((node) => node?.type === 'object');
    if (object) throw configSyntaxError(file, positionOf(object), 'a config file must be a body of attributes and blocks, not an object');
    return converter.body(body ?? null, { line: 1, column: 1 });
  } finally {
    tree.delete();
  }
}

function positionOf(node: SyntaxNode): Position {
  return { line: node.startPosition.row + 1, column: node.startPosition.column + 1 };
}

function describeSyntaxError(root: SyntaxNode, file: string): Error {
  const culprit = strayToken(findFirstError(root) ?? root);
  if (culprit.isMissing) return configSyntaxError(file, positionOf(culprit), `syntax error: missing "${culprit.type}"`);
  // The offending text can be part of a literal token or password: name only a punctuation character.
  const first = culprit.text.trimStart().charAt(0);
  const what = /^[{}[\]()=,:;"'#<>\\$%*/.!?|&+-]$/.test(first) ? `unexpected "${first}"` : 'unexpected text';
  return configSyntaxError(file, positionOf(culprit), `syntax error: ${what}`);
}

/** What an ERROR node may hold that is well-formed in itself: the part before the stray token. */
const WELL_FORMED = new Set(['identifier', 'string_lit', 'block_start', 'block_end', 'body', 'block', 'attribute', 'comment', 'expression', '{', '}', '=']);

/**
 * Tree-sitter wraps everything it could not place in one ERROR node, which may start at the top of the file: the
 * stray token is its first child that is not a well-formed piece (in `token = a:b`, the ":").
 */
function strayToken(node: SyntaxNode): SyntaxNode {
  if (node.type !== 'ERROR') return node;
  return node.children.find((c): c is SyntaxNode => c !== null && c.endIndex > c.startIndex && !WELL_FORMED.has(c.type)) ?? node;
}

/** The first error in document order, found without recursion (an error can sit deep in a nested tree). */
function findFirstError(root: SyntaxNode): SyntaxNode | undefined {
  let node = root;
  for (;;) {
    if (node.isMissing || node.type === 'ERROR') return node;
    const next = node.children.find((c): c is SyntaxNode => c !== null && c.hasError);
    if (!next) return node.isError ? node : undefined;
    node = next;
  }
}

/** Syntax nodes that open a level of nesting in the config's data. */
const NESTING_NODES = new Set(['block', 'tuple', 'object', 'function_call', 'template_interpolation', 'parenthesized_expression', 'ERROR']);

/**
 * Refuses a document nested deeper than MAX_NESTING or made of more than MAX_SYNTAX_NODES nodes, walking the tree
 * with a cursor (no recursion). Depth first, so a deep document is refused for its depth after a few nodes.
 */
function checkShape(root: SyntaxNode, file: string): void {
  const cursor = root.walk();
  try {
    const levels: number[] = [];
    for (let visited = 1; ; visited++) {
      if (visited > MAX_SYNTAX_NODES)
        throw configSyntaxError(
          file,
          { line: 1, column: 1 },
          `the config has more than ${MAX_SYNTAX_NODES} syntax elements`,
          'move large lists or template contents into files',
        );
      const level = (levels[levels.length - 1] ?? 0) + (NESTING_NODES.has(cursor.nodeType) ? 1 : 0);
      if (level > MAX_NESTING) {
        const { row, column } = cursor.startPosition;
        throw configSyntaxError(file, { line: row + 1, column: column + 1 }, `blocks, lists and objects are nested more than ${MAX_NESTING} levels deep here`);
      }
      if (cursor.gotoFirstChild()) {
        levels.push(level);
        continue;
      }
      while (!cursor.gotoNextSibling()) {
        if (!cursor.gotoParent()) return;
        levels.pop();
      }
    }
  } finally {
    cursor.delete();
  }
}

type ObjectNode = Extract<LocatedNode, { kind: 'object' }>;

class HclConverter {
  constructor(
    private readonly source: string,
    private readonly file: string,
  ) {}

  body(body: SyntaxNode | null, pos: Position): ObjectNode {
    const result: ObjectNode = { kind: 'object', pos, entries: new Map() };
    for (const item of body?.namedChildren ?? []) {
      if (!item) continue;
      if (item.type === 'attribute') this.attribute(result, item);
      else if (item.type === 'block') this.block(result, item);
    }
    return result;
  }

  private attribute(target: ObjectNode, node: SyntaxNode): void {
    const [nameNode, valueNode] = node.namedChildren;
    if (!nameNode || !valueNode) throw this.error(node, 'incomplete attribute');
    const name = nameNode.text;
    const previous = target.entries.get(name);
    if (previous) {
      const kind = previous.node.kind === 'scalar' || previous.node.kind === 'array' ? 'attribute' : 'block or attribute';
      throw this.error(nameNode, `"${name}" is already defined as an ${kind} at line ${previous.keyPos.line}`);
    }
    target.entries.set(name, { keyPos: positionOf(nameNode), node: this.expression(valueNode) });
  }

  /**
   * `type "a" "b" { … }` becomes `{type: {a: {b: body}}}` and an unlabelled `type { … }` is appended to a list,
   * which is the shape of HCL's own JSON form and of our JSON configs.
   */
  private block(target: ObjectNode, node: SyntaxNode): void {
    const children = node.namedChildren.filter((c): c is SyntaxNode => c !== null);
    const typeNode = children[0];
    if (!typeNode) throw this.error(node, 'block without a type');
    const labels = children.filter((c, i) => i > 0 && (c.type === 'string_lit' || c.type === 'identifier'));
    const bodyNode = children.find((c) => c.type === 'body') ?? null;
    const body = this.body(bodyNode, positionOf(node));
    const type = typeNode.text;
    const existing = target.entries.get(type);

    if (labels.length === 0) {
      if (!existing) {
        target.entries.set(type, { keyPos: positionOf(typeNode), node: { kind: 'array', pos: positionOf(typeNode), items: [body] } });
      } else if (existing.node.kind === 'array' && existing.node.items.every((item) => item.kind === 'object')) {
        existing.node.items.push(body);
      } else {
        throw this.error(typeNode, `block "${type}" clashes with "${type}" at line ${existing.keyPos.line}`);
      }
      return;
    }

    let container: ObjectNode;
    if (!existing) {
      container = { kind: 'object', pos: positionOf(typeNode), entries: new Map() };
      target.entries.set(type, { keyPos: positionOf(typeNode), node: container });
    } else if (existing.node.kind === 'object') {
      container = existing.node;
    } else {
      throw this.error(typeNode, `block "${type}" clashes with "${type}" at line ${existing.keyPos.line}`);
    }
    labels.forEach((labelNode, index) => {
      const label = labelNode.type === 'string_lit' ? this.stringLiteral(labelNode) : labelNode.text;
      const last = index === labels.length - 1;
      const entry: LocatedEntry | undefined = container.entries.get(label);
      if (last) {
        if (entry) {
          const all = labels.map((l) => `"${l.type === 'string_lit' ? this.stringLiteral(l) : l.text}"`).join(' ');
          throw this.error(labelNode, `duplicate block ${type} ${all} (first defined at line ${entry.keyPos.line})`);
        }
        container.entries.set(label, { keyPos: positionOf(labelNode), node: body });
        return;
      }
      if (entry && entry.node.kind !== 'object') throw this.error(labelNode, `block label "${label}" clashes with an earlier definition`);
      const next: ObjectNode = entry?.node.kind === 'object' ? entry.node : { kind: 'object', pos: positionOf(labelNode), entries: new Map() };
      if (!entry) container.entries.set(label, { keyPos: positionOf(labelNode), node: next });
      container = next;
    });
  }

  private expression(node: SyntaxNode): LocatedNode {
    const pos = positionOf(node);
    switch (node.type) {
      case 'expression': {
        const inner = node.namedChildren[0];
        if (!inner) throw this.error(node, 'empty expression');
        return this.expression(inner);
      }
      case 'literal_value': {
        const inner = node.namedChildren[0];
        if (!inner) throw this.error(node, 'empty literal');
        return this.expression(inner);
      }
      case 'numeric_lit':
        return { kind: 'scalar', pos, value: this.number(node) };
      case 'bool_lit':
        return { kind: 'scalar', pos, value: node.text === 'true' };
      case 'null_lit':
        return { kind: 'scalar', pos, value: null };
      case 'string_lit':
        return { kind: 'scalar', pos, value: this.stringLiteral(node) };
      case 'template_expr': {
        const inner = node.namedChildren[0];
        if (!inner) throw this.error(node, 'empty template');
        return { kind: 'scalar', pos, value: inner.type === 'heredoc_template' ? this.heredoc(inner) : this.quotedTemplate(inner) };
      }
      case 'collection_value': {
        const inner = node.namedChildren[0];
        if (!inner) throw this.error(node, 'empty collection');
        return inner.type === 'tuple' ? this.tuple(inner) : this.object(inner);
      }
      case 'operation':
        return this.negativeNumber(node);
      case 'variable_expr':
        // Never quoted back: an unquoted value is often a pasted token.
        throw this.error(node, 'an unquoted word here reads as a variable; the config takes literal values only: put the value in double quotes');
      default:
        throw this.error(node, `${node.type.replace(/_/g, ' ')} is not supported; the config takes literal values only`);
    }
  }

  private number(node: SyntaxNode): number {
    const value = Number(node.text);
    if (!Number.isFinite(value)) throw this.error(node, 'this number is out of range');
    return value;
  }

  private negativeNumber(node: SyntaxNode): LocatedNode {
    const unary = node.namedChildren[0];
    const operand = unary?.type === 'unary_operation' ? unary.namedChildren[0] : undefined;
    const literal = operand?.type === 'literal_value' ? operand.namedChildren[0] : undefined;
    if (unary && literal?.type === 'numeric_lit' && unary.text.trimStart().startsWith('-')) {
      return { kind: 'scalar', pos: positionOf(node), value: -this.number(literal) };
    }
    throw this.error(node, 'operators are not supported; the config takes literal values only');
  }

  private tuple(node: SyntaxNode): LocatedNode {
    const items = node.namedChildren.filter((c): c is SyntaxNode => c?.type === 'expression').map((c) => this.expression(c));
    return { kind: 'array', pos: positionOf(node), items };
  }

  private object(node: SyntaxNode): LocatedNode {
    const entries = new Map<string, LocatedEntry>();
    for (const element of node.namedChildren) {
      if (element?.type !== 'object_elem') continue;
      const keyNode = element.childForFieldName('key');
      const valueNode = element.childForFieldName('val');
      if (!keyNode || !valueNode) throw this.error(element, 'incomplete object element');
      const key = this.objectKey(keyNode);
      if (entries.has(key)) throw this.error(keyNode, `duplicate key "${key}"`);
      entries.set(key, { keyPos: positionOf(keyNode), node: this.expression(valueNode) });
    }
    return { kind: 'object', pos: positionOf(node), entries };
  }

  /** Object keys may be bare words (which HCL would otherwise read as variables) or strings. */
  private objectKey(node: SyntaxNode): string {
    const inner = node.type === 'expression' ? node.namedChildren[0] : node;
    if (inner?.type === 'variable_expr') return inner.text;
    const value = this.expression(node);
    if (value.kind !== 'scalar' || typeof value.value !== 'string') throw this.error(node, 'an object key must be a name or a string');
    return value.value;
  }

  /** A quoted string, exactly as written between its quotes (the grammar's literal tokens leave out edge spaces). */
  private stringLiteral(node: SyntaxNode): string {
    return this.quotedText(
      node,
      node.namedChildren.filter((c): c is SyntaxNode => c !== null),
    );
  }

  private quotedTemplate(node: SyntaxNode): string {
    const parts = node.namedChildren.filter((c): c is SyntaxNode => c !== null);
    const interpolation = parts.find((p) => p.type !== 'template_literal' && p.type !== 'quoted_template_start' && p.type !== 'quoted_template_end');
    if (interpolation) throw this.interpolationError(interpolation);
    return this.quotedText(node, parts);
  }

  private quotedText(node: SyntaxNode, parts: readonly SyntaxNode[]): string {
    const open = parts.find((p) => p.type === 'quoted_template_start');
    const close = parts.find((p) => p.type === 'quoted_template_end');
    if (!open || !close) throw this.error(node, 'unterminated string');
    return this.unescape(this.source.slice(open.endIndex, close.startIndex), open);
  }

  /** Heredoc bodies are taken from the source text: everything between the marker lines, `<<-` un-indented. */
  private heredoc(node: SyntaxNode): string {
    const children = node.namedChildren.filter((c): c is SyntaxNode => c !== null);
    const interpolation = children.find((c) => c.type === 'template_interpolation' || c.type === 'template_directive');
    if (interpolation) throw this.interpolationError(interpolation);
    const start = children.find((c) => c.type === 'heredoc_start');
    const markers = children.filter((c) => c.type === 'heredoc_identifier');
    const open = markers[0];
    const close = markers[markers.length - 1];
    if (!start || !open || !close || open === close) throw this.error(node, 'unterminated heredoc');
    const bodyStart = this.source.indexOf('\n', open.endIndex) + 1;
    const bodyEnd = this.source.lastIndexOf('\n', close.startIndex) + 1;
    let lines = this.source.slice(bodyStart, Math.max(bodyStart, bodyEnd)).split('\n');
    lines.pop(); // the text ends with the newline before the closing marker
    if (start.text.trim() === '<<-') {
      const indents = lines.filter((l) => l.trim() !== '').map((l) => /^[ \t]*/.exec(l)?.[0].length ?? 0);
      const strip = indents.length ? Math.min(...indents) : 0;
      // As hashicorp/hcl does (which the old code did not): a line of spaces only keeps them.
      lines = lines.map((l) => (l.trim() === '' ? l : l.slice(strip)));
    }
    return lines.map((l) => l.replace(/\$\$\{/g, '${').replace(/%%\{/g, '%{')).join('\n') + (lines.length ? '\n' : '');
  }

  /** `raw` starts right after `opening` (a string's opening quote), on the same line: errors point at the escape. */
  private unescape(raw: string, opening: SyntaxNode): string {
    const at = (offset: number): Position => ({ line: opening.endPosition.row + 1, column: opening.endPosition.column + offset + 1 });
    return raw.replace(
      /\\(?:u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|(.))|\$\$\{|%%\{/gs,
      (match: string, u4: string | undefined, u8: string | undefined, single: string | undefined, offset: number) => {
        if (match === '$${') return '${';
        if (match === '%%{') return '%{';
        const hex = u4 ?? u8;
        if (hex !== undefined) {
          const codePoint = parseInt(hex, 16);
          // A lone surrogate would be written out as U+FFFD: a silent change, so it is refused like an invalid escape.
          if (codePoint > 0x10ffff || (codePoint >= 0xd800 && codePoint <= 0xdfff)) {
            throw configSyntaxError(
              this.file,
              at(offset),
              'invalid escape: not a Unicode scalar value (the range is \\u0000-\\uD7FF, \\uE000-\\uFFFF, \\U00010000-\\U0010FFFF)',
            );
          }
          return String.fromCodePoint(codePoint);
        }
        switch (single) {
          case 'n':
            return '\n';
          case 'r':
            return '\r';
          case 't':
            return '\t';
          case '"':
            return '"';
          case '\\':
            return '\\';
          case 'u':
          case 'U':
            throw configSyntaxError(this.file, at(offset), `invalid escape: \\${single} takes exactly ${single === 'u' ? 4 : 8} hexadecimal digits`);
          default:
            throw configSyntaxError(this.file, at(offset), 'invalid escape; the escapes are \\n \\r \\t \\" \\\\ \\uNNNN \\UNNNNNNNN');
        }
      },
    );
  }

  private interpolationError(node: SyntaxNode): Error {
    return this.error(node, 'interpolation (${…} or %{…}) is not supported in the config; write "$${" for a literal "${"');
  }

  private error(node: SyntaxNode, message: string): Error {
    return configSyntaxError(this.file, positionOf(node), message);
  }
}
