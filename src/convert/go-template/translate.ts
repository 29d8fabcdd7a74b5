import { HELPER_SHAPES } from '../../template/helper-arity.js';
import type { ConversionFinding } from '../conversion-finding.js';
import type { Arg, IfNode, Node, Pipeline, RangeNode, VariableArg, WithNode } from './ast.js';
import { asMustacheBody, Unconvertible, VALUE, type Expr, type ValueKind } from './expression.js';
import { FUNCTIONS, unsupportedAdvice, type CallArgs } from './functions.js';
import { assemble, hbNumber, hbSegment, hbString, NotExpressible, type Piece } from './handlebars-syntax.js';
import { GoTemplateSyntaxError, type Position } from './lexer.js';
import { parseGoTemplate } from './parser.js';
import type { TranslateOptions, TranslateResult } from './translate-options.js';

export type { TranslateOptions, TranslateResult } from './translate-options.js';

/**
 * Translates a consul-template / Vault Agent Go template into a sidecar Handlebars template. What cannot be
 * translated becomes an `unconverted` call, which fails the render with the original's line, and a finding.
 * A file that does not parse is one finding (construct "syntax error") and a template that fails to render.
 */
export function translateGoTemplate(source: string, options: TranslateOptions): TranslateResult {
  let nodes: Node[];
  try {
    nodes = parseGoTemplate(source, { left: options.leftDelimiter ?? '{{', right: options.rightDelimiter ?? '}}' });
  } catch (error) {
    if (!(error instanceof GoTemplateSyntaxError)) throw error;
    const finding: ConversionFinding = {
      file: options.file,
      line: error.pos.line,
      column: error.pos.column,
      construct: 'syntax error',
      advice: error.converterLimit
        ? `${error.message}, more than the converter takes: split the template`
        : `${error.message}; consul-template would refuse this file too`,
    };
    return { template: `{{unconverted ${hbStringSafe(marker(finding))}}}`, findings: [finding] };
  }
  const translator = new Translator(options, assignedVariables(nodes));
  const pieces = translator.list(nodes, { dot: { code: 'this', kind: { t: 'root' } }, vars: new Map() });
  return { template: assemble(pieces), findings: translator.findings };
}

interface Variable {
  readonly code: string;
  readonly kind: ValueKind;
  /** A variable some `$x = …` assigns: it lives in a cell (`x.value`), which `assign` updates. */
  readonly cell: boolean;
}

interface Scope {
  readonly dot: Expr;
  readonly vars: ReadonlyMap<string, Variable>;
}

/** Variables declared in one chain of scopes: each is a nested `let`, and real templates have a few dozen. */
const MAX_LETS = 200;

/** Names a block parameter must not take: Handlebars keywords and every helper. */
const RESERVED = new Set(['this', 'else', 'true', 'false', 'null', 'undefined', 'as', 'value']);

class Translator {
  readonly findings: ConversionFinding[] = [];
  /** Go variable name → block parameter name. */
  readonly #params = new Map<string, string>();
  readonly #taken = new Set<string>();
  /** `let` blocks open around the node being translated. */
  #lets = 0;

  constructor(
    private readonly options: TranslateOptions,
    /** Go variable names that some `$x = …` assigns. */
    private readonly assigned: ReadonlySet<string>,
  ) {}

  list(nodes: readonly Node[], scope: Scope): Piece[] {
    const pieces: Piece[] = [];
    for (let i = 0; i < nodes.length; i++) {
      const node = nodes[i] as Node;
      if (node.kind === 'action' && node.pipe.decl.length > 0) {
        // A declaration holds for the rest of the enclosing list: the rest goes inside its `let`.
        if (this.#lets >= MAX_LETS) {
          pieces.push(...this.#unconverted(node.pos, `more than ${MAX_LETS} variables in one scope`, 'reuse variables, or split the template'));
          continue;
        }
        const bound = this.#declaration(node.pipe, scope);
        if (bound === undefined) continue;
        this.#lets++;
        pieces.push(...bound.open, ...this.list(nodes.slice(i + 1), bound.scope), ...bound.close);
        this.#lets--;
        return pieces;
      }
      pieces.push(...this.#node(node, scope));
    }
    return pieces;
  }

  #node(node: Node, scope: Scope): Piece[] {
    switch (node.kind) {
      case 'text':
        return [{ type: 'text', text: node.text }];
      case 'action':
        return this.#guard(() => {
          const literal = printedLiteral(node.pipe);
          // `{{ "text" }}` prints text known now: it is written as text (a lone literal in a mustache is a name).
          if (literal !== undefined) return [{ type: 'text', text: literal }];
          const value = this.#pipeline(node.pipe, scope);
          if (!isPlain(value.kind)) this.#refuse(node.pipe.pos, 'printing a whole secret', 'print its fields (`.Data.data.key`) or pass it to toJSON');
          // A literal as a mustache's whole body would be looked up as a name (`{{1.5}}`, `{{"a"}}`): printf prints it.
          const body = /^["'0-9-]/.test(value.code) ? `printf "%v" ${value.code}` : asMustacheBody(value.code);
          return [{ type: 'tag', role: 'inline', text: `{{${body}}}` }];
        });
      case 'if':
      case 'with':
        return this.#branch(node, scope);
      case 'range':
        return this.#range(node, scope);
      case 'other':
        return this.#unconverted(
          node.pos,
          node.keyword,
          node.keyword === 'break' || node.keyword === 'continue'
            ? `${node.keyword} has no counterpart in Handlebars loops: filter the list with if inside the loop instead`
            : 'named templates are not supported: write the template body in place',
        );
    }
  }

  #branch(node: IfNode | WithNode, scope: Scope): Piece[] {
    return this.#guard(
      () => {
        const value = this.#pipeline(node.pipe, scope, node.kind === 'with');
        let inner = scope;
        let params = '';
        if (node.kind === 'with') {
          inner = { ...scope, dot: { code: 'this', kind: value.kind } };
          const [variable] = node.pipe.decl;
          if (variable) {
            const name = this.#blockParam(variable.name);
            params = ` as |${name}|`;
            inner = { dot: inner.dot, vars: new Map(scope.vars).set(variable.name, { code: name, kind: value.kind, cell: false }) };
          }
        }
        const head = `${node.chained ? 'else ' : '#'}${node.kind} ${value.code}${params}`;
        const pieces: Piece[] = [{ type: 'tag', role: node.chained ? 'else' : 'open', text: `{{${head}}}` }, ...this.list(node.list, inner)];
        const chained = node.elseList?.length === 1 && (node.elseList[0] as Node).kind === node.kind && (node.elseList[0] as IfNode).chained;
        if (chained) pieces.push(...this.#branch(node.elseList?.[0] as IfNode, scope));
        else if (node.elseList) pieces.push({ type: 'tag', role: 'else', text: '{{else}}' }, ...this.list(node.elseList, scope));
        if (!node.chained) pieces.push({ type: 'tag', role: 'close', text: `{{/${node.kind}}}` });
        return pieces;
      },
      [node.list, node.elseList],
      scope,
      node.pipe.decl,
      node.chained,
    );
  }

  #range(node: RangeNode, scope: Scope): Piece[] {
    return this.#guard(
      () => {
        if (node.pipe.isAssign) this.#refuse(node.pos, 'range with =', 'declare the loop variables with := instead');
        const over = this.#pipeline(node.pipe, scope, true);
        if (!isPlain(over.kind))
          this.#refuse(node.pipe.pos, 'range over a whole secret', 'range over its data: `.Data` (KV v1, dynamic) or `.Data.data` (KV v2)');
        const vars = new Map(scope.vars);
        const names = node.pipe.decl.map((v) => {
          const name = this.#blockParam(v.name);
          vars.set(v.name, { code: name, kind: VALUE, cell: false });
          if (this.assigned.has(v.name))
            this.#refuse(v.pos, `assigning ${v.name}`, 'a variable declared by range or with cannot be assigned; declare another one with :=');
          return name;
        });
        // Go: one variable is the element; two are index/key then element. Ours: element, then key.
        const params = names.length === 0 ? '' : names.length === 1 ? ` as |${names[0]}|` : ` as |${names[1]} ${names[0]}|`;
        const inner: Scope = { dot: { code: 'this', kind: VALUE }, vars };
        const pieces: Piece[] = [{ type: 'tag', role: 'open', text: `{{#range ${over.code}${params}}}` }, ...this.list(node.list, inner)];
        if (node.elseList) pieces.push({ type: 'tag', role: 'else', text: '{{else}}' }, ...this.list(node.elseList, scope));
        pieces.push({ type: 'tag', role: 'close', text: '{{/range}}' });
        return pieces;
      },
      [node.list, node.elseList],
      scope,
      node.pipe.decl,
    );
  }

  /** `$x := v` → `{{#let v as |x|}}`…`{{/let}}`; `$x = v` → `{{assign x v}}` on a cell. */
  #declaration(pipe: Pipeline, scope: Scope): { open: Piece[]; close: Piece[]; scope: Scope } | undefined {
    const variable = pipe.decl[0];
    if (!variable) return undefined;
    let value: Expr;
    try {
      if (pipe.decl.length > 1) this.#refuse(pipe.pos, 'two variables', 'only range declares two variables');
      value = this.#pipeline({ ...pipe, decl: [], isAssign: false }, scope);
      if (pipe.isAssign) {
        const target = scope.vars.get(variable.name);
        if (!target) this.#refuse(variable.pos, `${variable.name} =`, `${variable.name} is not declared here`);
        if (!target.cell)
          this.#refuse(variable.pos, `${variable.name} =`, 'a variable declared by range or with cannot be assigned; declare another one with :=');
        return { open: [{ type: 'tag', role: 'inline', text: `{{assign ${target.code} ${value.code}}}` }], close: [], scope };
      }
    } catch (error) {
      const pieces = this.#caught(error);
      return { open: pieces, close: [], scope: { ...scope, vars: new Map(scope.vars).set(variable.name, { code: 'null', kind: VALUE, cell: false }) } };
    }
    const name = this.#blockParam(variable.name);
    const cell = this.assigned.has(variable.name);
    const vars = new Map(scope.vars).set(variable.name, { code: name, kind: value.kind, cell });
    return {
      open: [{ type: 'tag', role: 'open', text: `{{#let ${value.code}${cell ? ' cell=true' : ''} as |${name}|}}` }],
      close: [{ type: 'tag', role: 'close', text: '{{/let}}' }],
      scope: { ...scope, vars },
    };
  }

  /** A pipeline's value: each command's result is the last argument of the next. */
  #pipeline(pipe: Pipeline, scope: Scope, allowDecl = false): Expr {
    if (pipe.decl.length > 0 && !allowDecl) this.#refuse(pipe.pos, 'a variable declared in a condition', 'declare it on the line before');
    let previous: Expr | undefined;
    for (const cmd of pipe.cmds) {
      const [first, ...rest] = cmd.args;
      if (!first) continue;
      if (first.kind === 'identifier') {
        const exprs = rest.map((a) => this.#operand(a, scope));
        const nodes: (Arg | undefined)[] = [...rest];
        if (previous) {
          exprs.push(previous);
          nodes.push(undefined);
        }
        previous = this.#call(first.name, { exprs, nodes }, first.pos);
        continue;
      }
      if (rest.length > 0 || previous) this.#refuse(cmd.pos, 'arguments to a value', 'only functions take arguments');
      previous = this.#operand(first, scope);
    }
    if (!previous) this.#refuse(pipe.pos, 'empty pipeline', 'write a value');
    return previous;
  }

  #call(name: string, args: CallArgs, pos: Position): Expr {
    const translate = Object.hasOwn(FUNCTIONS, name) ? FUNCTIONS[name] : undefined;
    if (!translate) this.#refuse(pos, name, unsupportedAdvice(name));
    if (name === 'index') args = this.#indexStruct(args, pos);
    // consul-template passes its secret struct (RequestID, LeaseID, Data: {data, metadata}); ours hands out the
    // data itself, so `secret "p" | toJSON` or `len .Data` (KV v2) would compute on something else.
    for (const expr of args.exprs)
      if (!isPlain(expr.kind))
        this.#refuse(pos, `${name} of a whole secret`, 'pass it the data: `.Data` (KV v1, dynamic) or `.Data.data` (KV v2), or a field of it');
    return translate(args, { vaultBackend: this.options.vaultBackend, pos });
  }

  /** `index .Data "data" "key"` walks consul-template's secret struct like the fields `.Data.data.key` do. */
  #indexStruct(args: CallArgs, pos: Position): CallArgs {
    let [base, ...keys] = args.exprs;
    let nodes = args.nodes.slice(1);
    while (base !== undefined && !isPlain(base.kind) && nodes[0]?.kind === 'string') {
      base = this.#field(base, nodes[0].value, pos);
      keys = keys.slice(1);
      nodes = nodes.slice(1);
    }
    return base === undefined ? args : { exprs: [base, ...keys], nodes: [args.nodes[0], ...nodes] };
  }

  #operand(arg: Arg, scope: Scope): Expr {
    switch (arg.kind) {
      case 'string':
        return { code: this.#literal(() => hbString(arg.value), arg.pos), kind: VALUE };
      case 'number':
        return { code: this.#literal(() => hbNumber(arg.value), arg.pos), kind: VALUE };
      case 'bool':
        return { code: String(arg.value), kind: VALUE };
      case 'nil':
        return { code: 'null', kind: VALUE };
      case 'dot':
        return scope.dot;
      case 'variable':
        return this.#variable(arg.name, arg.pos, scope);
      case 'pipeline':
        return this.#pipeline(arg.pipe, scope);
      case 'identifier':
        // A function named as an argument is called with no arguments (`{{ f | g }}` vs `{{ g f }}`).
        return this.#call(arg.name, { exprs: [], nodes: [] }, arg.pos);
      case 'field': {
        const base = arg.receiver === undefined ? scope.dot : this.#operand(arg.receiver, scope);
        return this.#fields(base, arg.names, arg.pos);
      }
    }
  }

  #variable(name: string, pos: Position, scope: Scope): Expr {
    if (name === '$') return { code: '@root', kind: { t: 'root' } };
    const variable = scope.vars.get(name);
    if (!variable) this.#refuse(pos, name, `${name} is not declared here`);
    return { code: variable.cell ? `${variable.code}.value` : variable.code, kind: variable.kind };
  }

  /** Field access, following consul-template's secret struct down to the data our `secret` returns. */
  #fields(base: Expr, names: readonly string[], pos: Position): Expr {
    let expr = base;
    for (const name of names) expr = this.#field(expr, name, pos);
    return expr;
  }

  #field(expr: Expr, name: string, pos: Position): Expr {
    const kind = expr.kind;
    switch (kind.t) {
      case 'root':
        return this.#refuse(pos, `.${name}`, 'consul-template gives templates no data at the top level; this prints "<no value>" there');
      case 'secret':
        if (name === 'Data') return { ...expr, kind: { t: 'data', kv2: kind.kv2 } };
        return this.#refuse(
          pos,
          `.${name} of a secret`,
          name === 'LeaseID' || name === 'LeaseDuration' || name === 'Renewable'
            ? 'the sidecar renews and replaces leases itself and does not show their ids or durations to templates'
            : 'only .Data of a secret is available',
        );
      case 'data':
        if (kind.kv2 !== false && name === 'data') return { ...expr, kind: VALUE };
        if (kind.kv2 === true && name === 'metadata')
          return this.#refuse(pos, '.Data.metadata', 'KV v2 metadata (version, times) is not available to templates');
        if (kind.kv2 === true) return this.#refuse(pos, `.Data.${name} of a KV v2 secret`, 'a KV v2 secret has its values under .Data.data');
        return this.#member({ ...expr, kind: VALUE }, name, pos);
      case 'pki':
        return this.#pkiField(expr, name, pos);
      case 'value':
        return this.#member(expr, name, pos);
    }
  }

  /** pkiCert's fields are PEM blocks re-encoded, each ending in a line break, unlike Vault's fields. */
  #pkiField(expr: Expr, name: string, pos: Position): Expr {
    if (name === 'Data') return expr;
    const field = ({ Cert: 'certificate', Key: 'private_key', CA: 'issuing_ca' } as Record<string, string>)[name];
    if (field === undefined)
      return this.#refuse(
        pos,
        `.${name} of pkiCert`,
        name === 'CAChain' ? 'read the chain with `secret` on the issuer and range over ca_chain' : 'pkiCert has Cert, Key and CA',
      );
    return { code: `(printf "%s\n" ${this.#member({ ...expr, kind: VALUE }, field, pos).code})`, kind: VALUE };
  }

  #member(expr: Expr, name: string, pos: Position): Expr {
    if (expr.literalRef !== undefined) {
      // `secret "vault:p#a.b"`: the key joins the reference (a literal dot in a key is `\.`).
      const [ref, key] = expr.literalRef.split('#') as [string, string | undefined];
      const joined = `${ref}#${key === undefined ? '' : `${key}.`}${name.replace(/\./g, '\\.')}`;
      if (!name.includes('#') && !name.includes('\\'))
        return { code: `(secret ${this.#literal(() => hbString(joined), pos)})`, kind: VALUE, literalRef: joined };
    }
    const code = expr.code;
    if (code.startsWith('(') || /^["'0-9-]/.test(code) || code === 'null')
      return { code: `(lookup ${code} ${this.#literal(() => hbString(name), pos)})`, kind: VALUE };
    return { code: `${code}.${this.#literal(() => hbSegment(name), pos)}`, kind: VALUE };
  }

  #literal(spell: () => string, pos: Position): string {
    try {
      return spell();
    } catch (error) {
      if (error instanceof NotExpressible) this.#refuse(pos, 'literal', `${error.message} cannot be written in a Handlebars template`);
      throw error;
    }
  }

  /** A block parameter name for a Go variable: `$db` → `db`, unique in the template. */
  #blockParam(goName: string): string {
    const known = this.#params.get(goName);
    if (known !== undefined) return known;
    const base = goName.slice(1).replace(/[^A-Za-z0-9_]/g, '_') || 'v';
    let name = /^[A-Za-z_]/.test(base) && !RESERVED.has(base) && !HELPER_NAMES.has(base) ? base : `v_${base}`;
    // Handlebars reads any path matching /this\b/ (`v_this`, `athis`) as a lookup in the context, not a parameter.
    if (/this\b/.test(name)) name = `${name}_`;
    // Two Go names that spell the same here ($é, $ü) get different names; the same Go name reuses its own, since
    // Handlebars block parameters shadow outer ones as Go variables do.
    const stem = name;
    for (let n = 2; this.#taken.has(name); n++) name = `${stem}_${n}`;
    this.#params.set(goName, name);
    this.#taken.add(name);
    return name;
  }

  #refuse(pos: Position, construct: string, advice: string): never {
    throw new Unconvertible(construct, advice, pos);
  }

  /** Runs a translation; an Unconvertible inside it becomes a finding and a marker in place of the node. */
  #guard(
    translate: () => Piece[],
    bodies: readonly (readonly Node[] | undefined)[] = [],
    scope?: Scope,
    declared: readonly VariableArg[] = [],
    chained = false,
  ): Piece[] {
    try {
      return translate();
    } catch (error) {
      // An `else if` that cannot be translated fails where its branch is taken: in an else of its own.
      const marker = [...(chained ? [{ type: 'tag', role: 'else', text: '{{else}}' } as const] : []), ...this.#caught(error)];
      // The bodies of a block that could not be translated are still searched, so that the report lists all.
      if (scope) for (const body of bodies) if (body) this.list(body, { dot: { code: 'this', kind: VALUE }, vars: withDeclared(scope.vars, declared) });
      return marker;
    }
  }

  #caught(error: unknown): Piece[] {
    if (!(error instanceof Unconvertible)) throw error;
    return this.#unconverted(error.pos, error.construct, error.advice);
  }

  #unconverted(pos: Position, construct: string, advice: string): Piece[] {
    const finding: ConversionFinding = { file: this.options.file, line: pos.line, column: pos.column, construct, advice };
    this.findings.push(finding);
    return [{ type: 'tag', role: 'inline', text: `{{unconverted ${hbStringSafe(marker(finding))}}}` }];
  }
}

/** Helper names our language has: a block parameter of the same name would hide the helper. */
const HELPER_NAMES = new Set(Object.keys(HELPER_SHAPES));

function marker(finding: ConversionFinding): string {
  return `line ${finding.line}, column ${finding.column} of the original: ${finding.construct} was not converted (${finding.advice})`;
}

/** A marker's text as a literal; quotes and backslashes the literal cannot hold are dropped from the message. */
function hbStringSafe(text: string): string {
  return hbString(text.replace(/["\\]/g, "'"));
}

/** The text `{{ "s" }}`, `{{ 3 }}` or `{{ true }}` prints, or undefined for anything else. */
function printedLiteral(pipe: Pipeline): string | undefined {
  const [cmd, ...more] = pipe.cmds;
  const arg = cmd?.args[0];
  if (more.length > 0 || cmd?.args.length !== 1 || !arg) return undefined;
  if (arg.kind === 'string') return arg.value;
  if (arg.kind === 'bool') return String(arg.value);
  if (arg.kind === 'number' && Number.isSafeInteger(arg.value)) return String(arg.value);
  return undefined;
}

/** Data our helpers see as it is: plain values, and `.Data` of a KV v1 or dynamic secret. */
function isPlain(kind: ValueKind): boolean {
  return kind.t === 'value' || (kind.t === 'data' && kind.kv2 !== true);
}

/** The scope's variables and `declared` (as plain values): a block's body is searched even when its head fails. */
function withDeclared(vars: ReadonlyMap<string, Variable>, declared: readonly VariableArg[]): Map<string, Variable> {
  const out = new Map(vars);
  for (const v of declared) out.set(v.name, { code: 'null', kind: VALUE, cell: false });
  return out;
}

/** Every `$x` some `$x = …` assigns, anywhere in the template (such variables are declared as cells). */
function assignedVariables(nodes: readonly Node[]): Set<string> {
  const names = new Set<string>();
  const visit = (list: readonly Node[]): void => {
    for (const node of list) {
      if (node.kind === 'text' || node.kind === 'other') continue;
      if (node.pipe.isAssign) for (const v of node.pipe.decl) names.add(v.name);
      if (node.kind !== 'action') {
        visit(node.list);
        if (node.elseList) visit(node.elseList);
      }
    }
  };
  visit(nodes);
  return names;
}
