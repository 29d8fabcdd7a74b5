import type { Arg, Command, IfNode, Node, Pipeline, RangeNode, VariableArg, WithNode } from './ast.js';
import { GoTemplateSyntaxError, tokenize, type Delimiters, type Position, type Token } from './lexer.js';
import { unquoteGoString } from './literals.js';

/** Parses a Go template into its tree, following text/template/parse (trim markers applied to the text). */
export function parseGoTemplate(source: string, delimiters?: Delimiters): Node[] {
  return new Parser(trimmed(tokenize(source, delimiters))).template();
}

/** Applies `{{-` and `-}}`: the text before or after loses its spaces, tabs and line breaks; empty text goes. */
function trimmed(tokens: Token[]): Token[] {
  const out: Token[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as Token;
    if (token.kind !== 'text') {
      out.push(token);
      continue;
    }
    let text = token.text;
    let offset = token.pos.offset;
    const before = tokens[i - 1];
    const after = tokens[i + 1];
    if (before?.kind === 'rightDelim' && before.trim) {
      const lead = /^[ \t\r\n]*/.exec(text)?.[0].length ?? 0;
      text = text.slice(lead);
      offset += lead;
    }
    if (after?.kind === 'leftDelim' && after.trim) text = text.replace(/[ \t\r\n]+$/, '');
    if (text.length > 0) out.push({ ...token, text, pos: shift(token, offset) });
  }
  return out;
}

/** A position moved `offset - token.pos.offset` characters into the token's text. */
function shift(token: Token, offset: number): Position {
  let { line, column } = token.pos;
  for (let i = token.pos.offset; i < offset; i++) {
    if (token.text[i - token.pos.offset] === '\n') {
      line++;
      column = 1;
    } else column++;
  }
  return { offset, line, column };
}

type Context = 'command' | 'if' | 'with' | 'range' | 'paren';

/** Deeper nesting than any real template has; past it the file is refused rather than the stack exhausted. */
const MAX_DEPTH = 200;

class Parser {
  #at = 0;
  #depth = 0;

  constructor(private readonly tokens: Token[]) {}

  template(): Node[] {
    const [list, stop] = this.#list();
    if (stop !== undefined) this.#fail(`unexpected {{${stop.text}}}`, stop.pos);
    return list;
  }

  #fail(message: string, pos: Position): never {
    throw new GoTemplateSyntaxError(message, pos);
  }

  #tooDeep(message: string, pos: Position): never {
    throw new GoTemplateSyntaxError(message, pos, true);
  }

  #peek(): Token {
    return this.tokens[this.#at] as Token;
  }

  #next(): Token {
    const token = this.tokens[this.#at] as Token;
    if (token.kind !== 'eof') this.#at++;
    return token;
  }

  #nextNonSpace(): Token {
    let token = this.#next();
    while (token.kind === 'space') token = this.#next();
    return token;
  }

  #peekNonSpace(): Token {
    const token = this.#nextNonSpace();
    this.#at--;
    return token;
  }

  /** Nodes until `{{end}}`/`{{else}}` (returned, its keyword consumed) or the end of the file. */
  #list(): [Node[], Token | undefined] {
    if (++this.#depth > MAX_DEPTH) this.#tooDeep(`blocks nested deeper than ${MAX_DEPTH}`, this.#peek().pos);
    try {
      return this.#listBody();
    } finally {
      this.#depth--;
    }
  }

  #listBody(): [Node[], Token | undefined] {
    const nodes: Node[] = [];
    for (;;) {
      const token = this.#next();
      if (token.kind === 'eof') return [nodes, undefined];
      if (token.kind === 'text') {
        nodes.push({ kind: 'text', text: token.text, pos: token.pos });
        continue;
      }
      if (token.kind !== 'leftDelim') this.#fail(`unexpected ${token.text}`, token.pos);
      const inside = this.#peekNonSpace();
      if (inside.kind === 'comment') {
        this.#next();
        this.#expect('rightDelim', 'comment');
        continue;
      }
      if (inside.kind === 'keyword' && (inside.text === 'end' || inside.text === 'else')) {
        this.#nextNonSpace();
        return [nodes, inside];
      }
      nodes.push(this.#action(token));
    }
  }

  #expect(kind: Token['kind'], what: string): Token {
    const token = this.#nextNonSpace();
    if (token.kind !== kind) this.#fail(`unexpected ${describe(token)} in ${what}`, token.pos);
    return token;
  }

  #action(open: Token): Node {
    const token = this.#peekNonSpace();
    if (token.kind === 'keyword') {
      this.#nextNonSpace();
      switch (token.text) {
        case 'if':
          return this.#branch('if', token.pos, false);
        case 'with':
          return this.#branch('with', token.pos, false);
        case 'range':
          return this.#range(token.pos);
        case 'define':
        case 'block':
          return this.#skipDefinition(token);
        default:
          // template, break, continue: reported where they are.
          this.#skipToRightDelim();
          return { kind: 'other', keyword: token.text, pos: token.pos };
      }
    }
    const pipe = this.#pipeline('command', 'rightDelim');
    return { kind: 'action', pipe, pos: open.pos };
  }

  #skipToRightDelim(): void {
    for (let token = this.#next(); token.kind !== 'rightDelim'; token = this.#next()) if (token.kind === 'eof') this.#fail('unclosed action', token.pos);
  }

  /** `define`/`block` bodies are parsed (to find their `end`) and reported as one construct. */
  #skipDefinition(keyword: Token): Node {
    this.#skipToRightDelim();
    const [, stop] = this.#list();
    if (stop?.text !== 'end') this.#fail(`unexpected ${stop === undefined ? 'EOF' : `{{${stop.text}}}`} in ${keyword.text}`, stop?.pos ?? keyword.pos);
    this.#expect('rightDelim', 'end');
    return { kind: 'other', keyword: keyword.text, pos: keyword.pos };
  }

  #branch(kind: 'if' | 'with', pos: Position, chained: boolean): IfNode | WithNode {
    const pipe = this.#pipeline(kind, 'rightDelim');
    const [list, stop] = this.#list();
    let elseList: Node[] | undefined;
    if (stop === undefined) this.#fail(`unexpected EOF in ${kind}`, pos);
    if (stop.text === 'else') {
      const next = this.#peekNonSpace();
      if (next.kind === 'keyword' && next.text === kind) {
        // `{{else if x}}`: an if inside the else, sharing this one's `{{end}}`.
        this.#nextNonSpace();
        // A chain nests like blocks do (here, in the translator and in Handlebars): it counts towards the same limit.
        if (++this.#depth > MAX_DEPTH) this.#tooDeep(`blocks (else-if included) nested deeper than ${MAX_DEPTH}`, next.pos);
        try {
          elseList = [this.#branch(kind, next.pos, true)];
        } finally {
          this.#depth--;
        }
        return { kind, pipe, list, elseList, chained, pos };
      }
      this.#expect('rightDelim', 'else');
      const [inverse, end] = this.#list();
      if (end?.text !== 'end') this.#fail(`expected end; found ${end === undefined ? 'EOF' : `{{${end.text}}}`}`, end?.pos ?? pos);
      elseList = inverse;
    }
    this.#expect('rightDelim', 'end');
    return { kind, pipe, list, elseList, chained, pos };
  }

  #range(pos: Position): RangeNode {
    const pipe = this.#pipeline('range', 'rightDelim');
    const [list, stop] = this.#list();
    let elseList: Node[] | undefined;
    if (stop === undefined) this.#fail('unexpected EOF in range', pos);
    if (stop.text === 'else') {
      this.#expect('rightDelim', 'else');
      const [inverse, end] = this.#list();
      if (end?.text !== 'end') this.#fail(`expected end; found ${end === undefined ? 'EOF' : `{{${end.text}}}`}`, end?.pos ?? pos);
      elseList = inverse;
    }
    this.#expect('rightDelim', 'end');
    return { kind: 'range', pipe, list, elseList, pos };
  }

  #pipeline(context: Context, end: 'rightDelim' | 'rightParen'): Pipeline {
    const start = this.#peekNonSpace();
    const decl: VariableArg[] = [];
    let isAssign = false;
    if (start.kind === 'variable' && context !== 'paren') {
      const saved = this.#at;
      this.#nextNonSpace();
      const after = this.#peekNonSpace();
      if (after.kind === 'declare' || after.kind === 'assign') {
        this.#nextNonSpace();
        decl.push({ kind: 'variable', name: start.text, pos: start.pos });
        isAssign = after.kind === 'assign';
      } else if (after.kind === 'comma' && context === 'range') {
        this.#nextNonSpace();
        const second = this.#nextNonSpace();
        if (second.kind !== 'variable') this.#fail(`range can only initialize variables`, second.pos);
        const op = this.#nextNonSpace();
        if (op.kind !== 'declare' && op.kind !== 'assign') this.#fail(`expected := or = after range variables`, op.pos);
        decl.push({ kind: 'variable', name: start.text, pos: start.pos }, { kind: 'variable', name: second.text, pos: second.pos });
        isAssign = op.kind === 'assign';
      } else {
        this.#at = saved;
      }
    }
    const cmds: Command[] = [];
    for (;;) {
      const token = this.#peekNonSpace();
      if (token.kind === end) {
        this.#nextNonSpace();
        if (cmds.length === 0) this.#fail(`missing value for ${context}`, token.pos);
        return { decl, isAssign, cmds, pos: start.pos };
      }
      if (token.kind === 'eof' || token.kind === 'rightDelim' || token.kind === 'rightParen')
        this.#fail(`unexpected ${describe(token)} in ${context}`, token.pos);
      cmds.push(this.#command(end));
    }
  }

  #command(end: 'rightDelim' | 'rightParen'): Command {
    const args: Arg[] = [];
    const pos = this.#peekNonSpace().pos;
    for (;;) {
      this.#peekNonSpace();
      while (this.#peek().kind === 'space') this.#next();
      args.push(this.#operand());
      const token = this.#peek();
      if (token.kind === 'space') {
        const after = this.#peekNonSpace();
        if (after.kind === end || after.kind === 'pipe') {
          if (after.kind === 'pipe') {
            this.#nextNonSpace();
            if (this.#peekNonSpace().kind === end) this.#fail('missing command after |', after.pos);
          }
          return { args, pos };
        }
        continue;
      }
      if (token.kind === end) return { args, pos };
      if (token.kind === 'pipe') {
        this.#next();
        if (this.#peekNonSpace().kind === end) this.#fail('missing command after |', token.pos);
        return { args, pos };
      }
      this.#fail(`unexpected ${describe(token)} in operand`, token.pos);
    }
  }

  /** A term and the field chain written right against it (`$x.a.b`, `(f).a`). */
  #operand(): Arg {
    const term = this.#term();
    if (this.#peek().kind !== 'field') return term;
    const names: string[] = [];
    while (this.#peek().kind === 'field') names.push(this.#next().text.slice(1));
    if (term.kind === 'field') return { ...term, names: [...term.names, ...names] };
    if (term.kind !== 'variable' && term.kind !== 'pipeline' && term.kind !== 'dot')
      this.#fail(`unexpected . after term ${JSON.stringify(termText(term))}`, term.pos);
    return { kind: 'field', receiver: term.kind === 'dot' ? undefined : term, names, pos: term.pos };
  }

  #term(): Arg {
    const token = this.#next();
    const pos = token.pos;
    switch (token.kind) {
      case 'identifier':
        return { kind: 'identifier', name: token.text, pos };
      case 'dot':
        return { kind: 'dot', pos };
      case 'nil':
        return { kind: 'nil', pos };
      case 'variable':
        return { kind: 'variable', name: token.text, pos };
      case 'field':
        return { kind: 'field', receiver: undefined, names: [token.text.slice(1)], pos };
      case 'bool':
        return { kind: 'bool', value: token.text === 'true', pos };
      case 'number':
        return { kind: 'number', text: token.text, value: parseGoNumber(token), pos };
      case 'char': {
        const value = unquoteGoString(`"${token.text.slice(1, -1).replace(/"/g, '\\"')}"`, pos);
        return { kind: 'number', text: token.text, value: value.codePointAt(0) ?? 0, pos };
      }
      case 'string':
        return { kind: 'string', value: unquoteGoString(token.text, pos), pos };
      case 'rawString':
        return { kind: 'string', value: token.text.slice(1, -1).replace(/\r/g, ''), pos };
      case 'leftParen': {
        if (++this.#depth > MAX_DEPTH) this.#tooDeep(`parentheses nested deeper than ${MAX_DEPTH}`, pos);
        const pipe = this.#pipeline('paren', 'rightParen');
        this.#depth--;
        return { kind: 'pipeline', pipe, pos };
      }
      default:
        this.#fail(`unexpected ${describe(token)} in operand`, pos);
    }
  }
}

function describe(token: Token): string {
  if (token.kind === 'eof') return 'EOF';
  if (token.kind === 'rightDelim') return 'right delimiter';
  // A literal is named by its kind, not quoted: it may be a password written in the template.
  if (token.kind === 'string' || token.kind === 'rawString' || token.kind === 'char') return token.kind === 'char' ? 'character constant' : 'string';
  return `"${token.text}"`;
}

function termText(arg: Arg): string {
  return 'name' in arg ? arg.name : arg.kind;
}

function parseGoNumber(token: Token): number {
  const raw = token.text.replace(/_/g, '');
  if (raw.endsWith('i')) throw new GoTemplateSyntaxError(`complex numbers are not supported: ${token.text}`, token.pos);
  const sign = raw.startsWith('-') ? -1 : 1;
  const bare = raw.replace(/^[+-]/, '');
  let value: number;
  if (/^0[xX]/.test(bare) && !/[.pP]/.test(bare)) value = parseInt(bare.slice(2), 16);
  else if (/^0[bB]/.test(bare)) value = parseInt(bare.slice(2), 2);
  else if (/^0[oO]/.test(bare)) value = parseInt(bare.slice(2), 8);
  else if (/^0[0-7]+$/.test(bare)) value = parseInt(bare, 8);
  else value = Number(bare);
  if (!Number.isFinite(value)) throw new GoTemplateSyntaxError(`bad number syntax: ${token.text}`, token.pos);
  return sign * value;
}
