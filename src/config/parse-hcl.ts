import type { LocatedEntry, LocatedNode, Position } from './located.js';
import { HclLexer, describeToken, type Token } from './hcl-lexer.js';
import { MAX_NESTING, MAX_SYNTAX_NODES } from './source-limits.js';
import { configSyntaxError } from './syntax-error.js';

/*
 * The config's HCL2, read by hand: attributes, blocks with labels, and literal values (strings, heredocs,
 * numbers, negative numbers, true/false/null, tuples, objects). A config is data, so variables, function calls,
 * operators, conditionals and for-expressions are refused at their position rather than evaluated. HCL's own
 * rules on new lines hold: an attribute ends its line, a multi-line block closes on a line of its own, and a
 * block on one line holds at most one attribute. Recursion stops at MAX_NESTING levels, so no input can
 * overflow the stack; every error is located and names at most one punctuation character, never a value.
 */

type ObjectNode = Extract<LocatedNode, { kind: 'object' }>;

const BINARY_OPERATORS = new Set(['+', '-', '*', '/', '%', '==', '!=', '<', '>', '<=', '>=', '&&', '||']);
/** What may follow a bare word for it to read as a variable (or a traversal of one) rather than stray text. */
const AFTER_VARIABLE = new Set(['.', '[', ',', ']', '}', ')']);
const VARIABLE = 'an unquoted word here reads as a variable; the config takes literal values only: put the value in double quotes';
const OPERATORS = 'operators are not supported; the config takes literal values only';

export function parseHclConfig(source: string, file: string): LocatedNode {
  return new HclParser(source, file).config();
}

class HclParser {
  private readonly lexer: HclLexer;
  /** Values made so far, weighed with the tokens against MAX_SYNTAX_NODES. */
  private values = 0;
  /** Lists known to hold only objects (every list of blocks): a block is appended without checking them again. */
  private readonly objectLists = new WeakSet<LocatedNode[]>();
  /** The bodies of labelled blocks: another block's labels may not run through one (`a "x" {}`, `a "x" "y" {}`). */
  private readonly labelledBodies = new WeakSet<LocatedNode>();

  constructor(
    source: string,
    private readonly file: string,
  ) {
    this.lexer = new HclLexer(source, file);
  }

  config(): ObjectNode {
    const first = this.skipNewlines();
    if (isPunct(first, '{')) throw this.error(first.pos, 'a config file must be a body of attributes and blocks, not an object');
    const root: ObjectNode = { kind: 'object', pos: { line: 1, column: 1 }, entries: new Map() };
    this.body(root, 0, undefined);
    return root;
  }

  /** Attributes and blocks up to the end of the file, or up to the `}` that closes the block opened by `open`. */
  private body(target: ObjectNode, depth: number, open: Token | undefined): void {
    for (;;) {
      const token = this.skipNewlines();
      if (token.kind === 'eof') {
        if (open) throw this.error(open.pos, 'syntax error: this block is never closed by "}"');
        return;
      }
      this.lexer.next();
      if (isPunct(token, '}') && open) return;
      if (token.kind !== 'ident') throw this.unexpected(token);
      this.values += 2;
      this.checkSize();
      this.item(target, token, depth);
      this.endOfLine();
    }
  }

  private item(target: ObjectNode, name: Token, depth: number): void {
    const labels: Token[] = [];
    for (let token = this.lexer.next(); ; token = this.lexer.next()) {
      if (isPunct(token, '=') && labels.length === 0) return this.attribute(target, name, depth);
      if (isPunct(token, '{')) return this.block(target, name, labels, token, depth);
      if (token.kind !== 'string' && token.kind !== 'ident') throw this.unexpected(token);
      // Each label nests the block one object deeper in the tree (`a "x" "y" {}` is {a: {x: {y: {}}}}).
      this.checkDepth(depth + 1 + labels.length, token.pos);
      labels.push(token);
    }
  }

  private attribute(target: ObjectNode, name: Token, depth: number): void {
    const previous = target.entries.get(name.text);
    if (previous) {
      const kind = previous.node.kind === 'scalar' || previous.node.kind === 'array' ? 'attribute' : 'block or attribute';
      throw this.error(name.pos, `"${name.text}" is already defined as an ${kind} at line ${previous.keyPos.line}`);
    }
    target.entries.set(name.text, { keyPos: name.pos, node: this.value(name, depth) });
  }

  /** The value after `name =` (or `name:` in an object), which starts on the same line. */
  private value(name: Token, depth: number): LocatedNode {
    const next = this.lexer.peek();
    if (next.kind === 'newline' || next.kind === 'eof') throw this.error(name.pos, 'syntax error: no value after "=" on this line');
    return this.expression(this.lexer.next(), depth);
  }

  /** An attribute or a block ends its line (or the file). */
  private endOfLine(): void {
    const token = this.lexer.next();
    if (token.kind !== 'newline' && token.kind !== 'eof') throw this.unexpected(token, '; an attribute or block ends its line');
  }

  /**
   * `type "a" "b" { … }` becomes `{type: {a: {b: body}}}` and an unlabelled `type { … }` is appended to a list,
   * which is the shape of HCL's own JSON form and of our JSON configs.
   */
  private block(target: ObjectNode, type: Token, labels: readonly Token[], open: Token, depth: number): void {
    this.checkDepth(depth + 1, type.pos);
    const body: ObjectNode = { kind: 'object', pos: type.pos, entries: new Map() };
    this.oneBlockBody(body, open, depth + 1);
    const existing = target.entries.get(type.text);

    if (labels.length === 0) {
      if (!existing) {
        const items = [body];
        this.objectLists.add(items);
        target.entries.set(type.text, { keyPos: type.pos, node: { kind: 'array', pos: type.pos, items } });
      } else if (existing.node.kind === 'array' && this.holdsOnlyObjects(existing.node.items)) {
        existing.node.items.push(body);
      } else {
        throw this.clash(type, existing);
      }
      return;
    }

    let container: ObjectNode;
    if (!existing) {
      container = { kind: 'object', pos: type.pos, entries: new Map() };
      target.entries.set(type.text, { keyPos: type.pos, node: container });
    } else if (existing.node.kind === 'object') {
      container = existing.node;
    } else {
      throw this.clash(type, existing);
    }
    this.labelledBodies.add(body);
    labels.forEach((label, index) => {
      const entry: LocatedEntry | undefined = container.entries.get(label.text);
      if (entry && (index === labels.length - 1 || this.labelledBodies.has(entry.node))) {
        const all = labels.map((l) => `"${l.text}"`).join(' ');
        throw this.error(label.pos, `duplicate block ${type.text} ${all} (first defined at line ${entry.keyPos.line})`);
      }
      if (index === labels.length - 1) {
        container.entries.set(label.text, { keyPos: label.pos, node: body });
        return;
      }
      if (entry && entry.node.kind !== 'object') throw this.error(label.pos, `block label "${label.text}" clashes with an earlier definition`);
      const next: ObjectNode = entry?.node.kind === 'object' ? entry.node : { kind: 'object', pos: label.pos, entries: new Map() };
      if (!entry) container.entries.set(label.text, { keyPos: label.pos, node: next });
      container = next;
    });
  }

  /** Checked once per list, so that n blocks of one type cost n steps, not n². */
  private holdsOnlyObjects(items: LocatedNode[]): boolean {
    if (this.objectLists.has(items)) return true;
    if (!items.every((item) => item.kind === 'object')) return false;
    this.objectLists.add(items);
    return true;
  }

  /** After `{`: a body on lines of its own, `{}`, or one attribute on the block's line (HCL's one-line block). */
  private oneBlockBody(body: ObjectNode, open: Token, depth: number): void {
    const first = this.lexer.peek();
    if (first.kind === 'newline') return this.body(body, depth, open);
    if (isPunct(this.lexer.next(), '}')) return;
    if (first.kind !== 'ident') throw this.unexpected(first);
    if (!isPunct(this.lexer.peek(), '=')) {
      throw this.error(first.pos, 'syntax error: a block on one line holds at most one attribute (name = value); write a longer block on several lines');
    }
    this.lexer.next();
    this.attribute(body, first, depth);
    const close = this.lexer.next();
    if (!isPunct(close, '}')) throw this.unexpected(close, '; a block on one line holds at most one attribute and ends with "}"');
  }

  /** A value whose first token, `start`, is already read; an operator after it is refused. */
  private expression(start: Token, depth: number): LocatedNode {
    this.values += start.kind === 'string' || start.kind === 'heredoc' ? 4 : 2;
    this.checkSize();
    const value = this.primary(start, depth);
    const after = this.lexer.peek();
    if (after.kind === 'punct' && BINARY_OPERATORS.has(after.text)) throw this.error(start.pos, OPERATORS);
    if (isPunct(after, '?')) throw this.error(start.pos, 'conditional is not supported; the config takes literal values only');
    return value;
  }

  private primary(token: Token, depth: number): LocatedNode {
    const { pos } = token;
    switch (token.kind) {
      case 'number':
        return { kind: 'scalar', pos, value: this.number(token) };
      case 'string':
      case 'heredoc':
        return { kind: 'scalar', pos, value: token.text };
      case 'ident':
        if (token.text === 'true' || token.text === 'false') return { kind: 'scalar', pos, value: token.text === 'true' };
        if (token.text === 'null') return { kind: 'scalar', pos, value: null };
        throw this.bareWord(token);
      case 'punct':
        break;
      default:
        throw this.unexpected(token);
    }
    switch (token.text) {
      case '-': {
        const operand = this.lexer.next();
        if (operand.kind !== 'number') throw this.error(pos, OPERATORS);
        return { kind: 'scalar', pos, value: -this.number(operand) };
      }
      case '!':
        throw this.error(pos, OPERATORS);
      case '[':
        return this.tuple(token, depth + 1);
      case '{':
        return this.object(token, depth + 1);
      case '(': {
        this.checkDepth(depth + 1, pos);
        const inner = this.expression(this.skipNewlinesAndRead(), depth + 1);
        const close = this.skipNewlinesAndRead();
        if (!isPunct(close, ')')) throw this.unexpected(close);
        return inner;
      }
      default:
        throw this.unexpected(token);
    }
  }

  /** A bare word that is not a literal: a variable, a function call, or text that is not HCL at all. */
  private bareWord(word: Token): Error {
    const next = this.lexer.peek();
    if (isPunct(next, '(')) return this.error(word.pos, 'function call is not supported; the config takes literal values only');
    if (next.kind === 'punct' && BINARY_OPERATORS.has(next.text)) return this.error(word.pos, OPERATORS);
    if (isPunct(next, '?')) return this.error(word.pos, 'conditional is not supported; the config takes literal values only');
    // Never quoted back: an unquoted value is often a pasted token.
    if (next.kind === 'newline' || next.kind === 'eof' || (next.kind === 'punct' && AFTER_VARIABLE.has(next.text))) return this.error(word.pos, VARIABLE);
    return this.unexpected(next);
  }

  private number(token: Token): number {
    const { text } = token;
    const value = Number(text);
    // A double holds neither 1e-400 nor 9007199254740993 (HCL's numbers do): refused, not read as 0 or …992.
    const underflow = value === 0 && /[1-9]/.test(text.split(/[eE]/)[0]!);
    const inexactInteger = /^[0-9]+$/.test(text) && !Number.isSafeInteger(value);
    if (!Number.isFinite(value) || underflow || inexactInteger) throw this.error(token.pos, 'this number is out of range');
    return value;
  }

  /** `[a, b]`: new lines between items are free, a comma after the last one too. */
  private tuple(open: Token, depth: number): LocatedNode {
    this.checkDepth(depth, open.pos);
    const items: LocatedNode[] = [];
    for (;;) {
      const token = this.skipNewlinesAndRead();
      if (isPunct(token, ']')) break;
      if (items.length === 0) this.refuseFor(open, token);
      items.push(this.expression(token, depth));
      const separator = this.skipNewlinesAndRead();
      if (isPunct(separator, ']')) break;
      if (!isPunct(separator, ',')) throw this.unexpected(separator);
    }
    return { kind: 'array', pos: open.pos, items };
  }

  /** `{key = value, "key": value}`: items are separated by a comma or a new line. */
  private object(open: Token, depth: number): LocatedNode {
    this.checkDepth(depth, open.pos);
    const entries = new Map<string, LocatedEntry>();
    for (;;) {
      const token = this.skipNewlinesAndRead();
      if (isPunct(token, '}')) break;
      if (entries.size === 0) this.refuseFor(open, token);
      const key = this.objectKey(token, depth);
      if (entries.has(key)) throw this.error(token.pos, `duplicate key "${key}"`);
      const equals = this.lexer.next();
      if (!isPunct(equals, '=') && !isPunct(equals, ':')) throw this.unexpected(equals);
      entries.set(key, { keyPos: token.pos, node: this.value(token, depth) });
      const separator = this.lexer.peek();
      if (isPunct(separator, ',') || separator.kind === 'newline') this.lexer.next();
      else if (!isPunct(separator, '}')) throw this.unexpected(separator, '; object items are separated by a comma or a new line');
    }
    return { kind: 'object', pos: open.pos, entries };
  }

  /** Object keys may be bare words (which HCL would otherwise read as variables) or strings. */
  private objectKey(token: Token, depth: number): string {
    if (token.kind === 'ident' && token.text !== 'true' && token.text !== 'false' && token.text !== 'null') return token.text;
    const value = this.expression(token, depth);
    if (value.kind !== 'scalar' || typeof value.value !== 'string') throw this.error(token.pos, 'an object key must be a name or a string');
    return value.value;
  }

  /** `[for x in xs: …]` and `{for k, v in m: …}`: HCL reads `for` first in a tuple or object as this, always. */
  private refuseFor(open: Token, first: Token): void {
    if (first.kind === 'ident' && first.text === 'for') {
      throw this.error(open.pos, 'for expr is not supported; the config takes literal values only');
    }
  }

  /** Tokens and values, about as many as the tree-sitter grammar made nodes (the limit was set on its count). */
  private checkSize(): void {
    if (this.values + this.lexer.count > MAX_SYNTAX_NODES) {
      throw configSyntaxError(
        this.file,
        { line: 1, column: 1 },
        `the config has more than ${MAX_SYNTAX_NODES} syntax elements`,
        'move large lists or template contents into files',
      );
    }
  }

  private checkDepth(depth: number, pos: Position): void {
    if (depth > MAX_NESTING) throw this.error(pos, `blocks, lists and objects are nested more than ${MAX_NESTING} levels deep here`);
  }

  /** The next token that is not a new line, left unread. */
  private skipNewlines(): Token {
    while (this.lexer.peek().kind === 'newline') this.lexer.next();
    return this.lexer.peek();
  }

  private skipNewlinesAndRead(): Token {
    this.skipNewlines();
    return this.lexer.next();
  }

  /** A block whose type is already taken by an attribute, or by blocks of the other kind (labelled or not). */
  private clash(type: Token, existing: LocatedEntry): Error {
    return this.error(type.pos, `block "${type.text}" clashes with "${type.text}" at line ${existing.keyPos.line}`);
  }

  private unexpected(token: Token, advice = ''): Error {
    return this.error(token.pos, `syntax error: unexpected ${describeToken(token)}${advice}`);
  }

  private error(pos: Position, message: string): Error {
    return configSyntaxError(this.file, pos, message);
  }
}

function isPunct(token: Token, text: string): boolean {
  return token.kind === 'punct' && token.text === text;
}
