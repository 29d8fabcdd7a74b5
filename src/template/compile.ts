import Handlebars from 'handlebars';
import { DEFAULT_MAX_RENDER_BYTES } from '../config/types.js';
import { SidecarError } from '../errors.js';
import { shapeMismatch } from './helper-arity.js';
import { blockCost } from './helper-kit.js';
import { HELPERS, helperError } from './helpers.js';
import { currentState } from './render-state.js';
import { isPending, originOf, taintValue } from './taint.js';

type TemplateSpec = Parameters<typeof Handlebars.template>[0];

export type TemplateFunction = (context: unknown, options: Handlebars.RuntimeOptions) => string;

export interface CompiledTemplate {
  /** What messages call the template (its source path, or its place in the config). */
  readonly name: string;
  /** The template's JavaScript, generated on the first call (see generatedOnFirstUse). */
  readonly program: () => TemplateFunction;
  /** References written as string literals (`{{secret "a:b"}}`), checkable before any render. */
  readonly literalRefs: readonly LiteralRef[];
  /** The most a render may produce; more fails (SIDECAR_ERR_RENDER_TOO_LARGE). */
  readonly maxBytes: number;
  /** Where each source line starts, to size blocks for the work budget. */
  readonly lineStarts: readonly number[];
}

export interface LiteralRef {
  readonly text: string;
  readonly line: number;
}

/**
 * One isolated Handlebars environment: our helpers only, `log` removed (it would print values to the console),
 * unknown helpers rejected when the template loads, no HTML escaping (the output is config, not HTML).
 */
const handlebars = Handlebars.create();
handlebars.unregisterHelper('log');
for (const [name, helper] of Object.entries(HELPERS)) handlebars.registerHelper(name, helper as Handlebars.HelperDelegate);

/** The compiler classes Handlebars exposes but does not type; compile() uses the same two steps lazily. */
interface HandlebarsCompilers {
  Compiler: new () => { compile(ast: unknown, options: object): unknown };
  JavaScriptCompiler: new () => {
    compile(environment: unknown, options: object, context: undefined, asObject: true): unknown;
    nameLookup(parent: unknown, name: string, type: string): unknown;
    quotedString(text: string): string;
  };
}
const compilers = handlebars as unknown as HandlebarsCompilers;

/*
 * Templates run in an environment with no helpers of its own: each gets only those its code calls. Handlebars
 * wraps every helper of the environment in two closures at each render and keeps the last set on the template:
 * with all 40-odd helpers, 11 KB per template (2.2 MB for 200) and 80 closures of garbage per render.
 */
const runtime = Handlebars.create();
for (const name of Object.keys(runtime.helpers)) runtime.unregisterHelper(name);
/** Where the code generator notes the helpers it calls (it runs synchronously, child programs included). */
let calledHelpers: Set<string> | undefined;

/*
 * A string has own properties "0", "1", … and "length", so a lookup into a secret text (`this.[3]`,
 * `(lookup (secret "x") 3)`) hands out its characters one by one, which taint by value cannot recognise. Every
 * lookup into a text or number derived from a secret gives a result derived from it too. The name below holds a
 * NUL, which no template can write as a helper call (and knownHelpersOnly refuses unknown helpers anyway).
 */
const DERIVED_LOOKUP = '\u0000derivedLookup';
handlebars.registerHelper(DERIVED_LOOKUP, (container: { lookupProperty(parent: unknown, name: unknown): unknown }, parent: unknown, name: unknown) => {
  const result = container.lookupProperty(parent, name);
  return typeof parent === 'string' || typeof parent === 'number' ? derivedPart(parent, result) : result;
});

/** `part`, looked up in `whole`, marked as derived from whatever `whole` is derived from. */
function derivedPart(whole: unknown, part: unknown): unknown {
  if (part === undefined || part === null) return part;
  const state = currentState();
  if (isPending(state, whole)) return state.pending;
  const origin = originOf(state, whole);
  if (origin !== undefined) taintValue(state, part, origin);
  return part;
}

/** Compiles every lookup on the context through DERIVED_LOOKUP (Handlebars' documented way to extend lookups). */
class TaintingCompiler extends compilers.JavaScriptCompiler {
  override nameLookup(parent: unknown, name: string, type: string): unknown {
    if (type === 'helper') calledHelpers?.add(name);
    if (type !== 'context') return super.nameLookup(parent, name, type);
    // The trailing {} stands where Handlebars' helper wrapper expects a helper's options.
    return [`helpers[${this.quotedString(DERIVED_LOOKUP)}](container, `, parent, `, ${this.quotedString(name)}, {})`];
  }
}
// Child programs (block bodies) are compiled by `compiler`: the same class.
(TaintingCompiler.prototype as unknown as { compiler: unknown }).compiler = TaintingCompiler;

/**
 * The block built-ins, counted and guarded: every run of a block costs one unit of work plus one per 32
 * characters of its source (what one iteration can do is bounded by how much template it runs), `each` counts
 * what it produces against the size limit, and a block over a value not fetched yet renders nothing in this
 * pass (the next pass, with the value, decides), so a branch never fetches what it would not use.
 */
for (const name of ['each', 'if', 'unless', 'with'] as const) {
  const builtin = handlebars.helpers[name] as Handlebars.HelperDelegate;
  handlebars.registerHelper(name, function (this: unknown, ...all: unknown[]) {
    const options = all[all.length - 1] as Handlebars.HelperOptions;
    const state = currentState();
    const mismatch = shapeMismatch(name, all.length - 1, Object.keys(options.hash as object), typeof options.fn === 'function');
    if (mismatch !== undefined) throw helperError(options, 'SIDECAR_ERR_RENDER_FAILED', mismatch);
    state.charge(1);
    if (isPending(state, all[0])) return '';
    const cost = blockCost(state, options);
    const wrap = (fn: Handlebars.TemplateDelegate | undefined) =>
      fn &&
      Object.assign((item: unknown, frame?: Handlebars.RuntimeOptions) => {
        state.charge(cost);
        const out = fn(item, frame);
        if (name === 'each') state.spend(out.length);
        return out;
      }, fn);
    return builtin.call(this, all[0], { ...options, fn: wrap(options.fn), inverse: wrap(options.inverse) }) as string;
  });
}

// `lookup` into a value not fetched yet is not known yet either (not undefined, which `default` would replace).
const builtinLookup = handlebars.helpers['lookup'] as Handlebars.HelperDelegate;
handlebars.registerHelper('lookup', function (this: unknown, ...all: unknown[]) {
  const state = currentState();
  state.charge(1);
  if (isPending(state, all[0]) || isPending(state, all[1])) return state.pending;
  const result = (builtinLookup as (...args: unknown[]) => unknown).apply(this, all);
  return typeof all[0] === 'string' || typeof all[0] === 'number' ? derivedPart(all[0], result) : result;
});

const KNOWN_HELPERS: Record<string, boolean> = { log: false, ...Object.fromEntries(Object.keys(HELPERS).map((n) => [n, true])) };

export function compileTemplate(name: string, source: string, strict: boolean, maxBytes = DEFAULT_MAX_RENDER_BYTES): CompiledTemplate {
  const options = { data: true, noEscape: true, strict, knownHelpers: KNOWN_HELPERS, knownHelpersOnly: true, preventIndent: true };
  try {
    // Compile now rather than at first render (Handlebars' default), so that a broken template fails at load.
    const ast = handlebars.parse(source);
    rejectPartials(ast);
    checkHelperCalls(ast);
    const program = new compilers.Compiler().compile(ast, options);
    return { name, program: generatedOnFirstUse(name, program, options), literalRefs: collectLiteralRefs(ast), maxBytes, lineStarts: lineStartsOf(source) };
  } catch (error) {
    throw templateSyntaxError(name, error);
  }
}

/**
 * Generates the template's JavaScript on its first render rather than at load: that step is two thirds of
 * compiling, and on its first render it overlaps the fetches that the templates rendered before it started.
 * Everything that refuses a template (syntax, unknown helpers, helper shapes, partials) has run at load.
 */
function generatedOnFirstUse(name: string, compiled: unknown, options: object): () => TemplateFunction {
  let program: unknown = compiled;
  let run: TemplateFunction | undefined;
  return () => {
    if (run === undefined) {
      // The hooks Handlebars calls for a block or a call on a value that is not a helper, and every lookup.
      const called = new Set(['helperMissing', 'blockHelperMissing', DERIVED_LOOKUP]);
      let template: TemplateFunction;
      try {
        calledHelpers = called;
        template = runtime.template(new TaintingCompiler().compile(program, options, undefined, true) as TemplateSpec);
      } catch (error) {
        throw templateSyntaxError(name, error);
      } finally {
        calledHelpers = undefined;
      }
      const helpers: Record<string, Handlebars.HelperDelegate> = {};
      for (const helper of called) if (handlebars.helpers[helper]) helpers[helper] = handlebars.helpers[helper];
      run = (context, runtimeOptions) => template(context, { ...runtimeOptions, helpers });
      program = undefined;
    }
    return run;
  };
}

/** Handlebars' parse or code-generation error, as the coded error that names the template and line. */
function templateSyntaxError(name: string, error: unknown): SidecarError {
  return new SidecarError('SIDECAR_ERR_TEMPLATE_SYNTAX', `template "${name}" ${describeSyntaxError(error)}`, { cause: error });
}

function describeSyntaxError(error: unknown): string {
  const e = error as { message?: string; hash?: { loc?: { first_line?: number; first_column?: number } }; lineNumber?: number; column?: number };
  const message = (e.message ?? String(error)).trim();
  const line = e.hash?.loc?.first_line ?? e.lineNumber ?? Number(/on line (\d+)/.exec(message)?.[1] ?? NaN);
  // Handlebars' parse errors carry a source excerpt and a caret; keep only the "Expecting …" part.
  const reason = message.includes('\n') ? (message.split('\n').slice(-1)[0] ?? message) : message.replace(/ - \d+:\d+$/, '');
  return Number.isFinite(line) ? `line ${line}: ${reason}` : reason;
}

interface AstNode {
  type?: string;
  path?: { original?: unknown };
  params?: AstNode[];
  value?: unknown;
  loc?: { start?: { line?: number } };
  [key: string]: unknown;
}

/**
 * Partials (and the decorators that define them inline) are the one way a template could recurse without end;
 * no helper reads files, so they could reach nothing else either. They are refused when the template loads.
 */
function rejectPartials(ast: unknown): void {
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (node === null || typeof node !== 'object') return;
    const n = node as AstNode;
    if (n.type === 'PartialStatement' || n.type === 'PartialBlockStatement' || n.type === 'DecoratorBlock' || n.type === 'Decorator') {
      throw Object.assign(new Error('partials and decorators are not supported'), { lineNumber: n.loc?.start?.line });
    }
    for (const value of Object.values(n)) if (value !== n.loc) visit(value);
  };
  visit(ast);
}

/**
 * Every helper call must fit its helper's shape (argument count, hash names, block or not), so that `validate`
 * refuses `{{trim}}` or `{{json a b}}` with a line, rather than a render failing on them later.
 */
function checkHelperCalls(ast: unknown): void {
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (node === null || typeof node !== 'object') return;
    const n = node as AstNode & { hash?: { pairs?: { key?: string }[] }; program?: unknown };
    const path = n.path as { original?: unknown; type?: string } | undefined;
    if (
      (n.type === 'MustacheStatement' || n.type === 'SubExpression' || n.type === 'BlockStatement') &&
      path?.type === 'PathExpression' &&
      typeof path.original === 'string'
    ) {
      const hashNames = (n.hash?.pairs ?? []).map((p) => p.key ?? '');
      const mismatch = shapeMismatch(path.original, n.params?.length ?? 0, hashNames, n.type === 'BlockStatement');
      if (mismatch !== undefined) throw Object.assign(new Error(mismatch), { lineNumber: n.loc?.start?.line });
    }
    for (const [key, value] of Object.entries(n)) if (key !== 'loc' && typeof value === 'object') visit(value);
  };
  visit(ast);
}

function lineStartsOf(source: string): number[] {
  const starts = [0];
  for (let at = source.indexOf('\n'); at !== -1; at = source.indexOf('\n', at + 1)) starts.push(at + 1);
  return starts;
}

/** Walks the Handlebars AST for `secret` and `list` calls whose argument is a string literal. */
function collectLiteralRefs(ast: unknown): LiteralRef[] {
  const refs: LiteralRef[] = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (node === null || typeof node !== 'object') return;
    const n = node as AstNode;
    // `(deferred "secret" "ref")`, written by convert inside and/or, names its reference one place later.
    const deferredCall = n.path?.original === 'deferred' && n.params?.[0]?.type === 'StringLiteral';
    const name = deferredCall ? n.params?.[0]?.value : n.path?.original;
    const first = n.params?.[deferredCall ? 1 : 0];
    if ((name === 'secret' || name === 'list') && first?.type === 'StringLiteral' && typeof first.value === 'string') {
      refs.push({ text: first.value, line: n.loc?.start?.line ?? 0 });
    }
    for (const [key, value] of Object.entries(n)) if (key !== 'loc' && typeof value === 'object') visit(value);
  };
  visit(ast);
  return refs;
}
