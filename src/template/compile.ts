import Handlebars from 'handlebars';
import { DEFAULT_MAX_RENDER_BYTES } from '../config/types.js';
import { SidecarError } from '../errors.js';
import { HELPERS } from './helpers.js';

type TemplateSpec = Parameters<typeof Handlebars.template>[0];

export type TemplateFunction = (context: unknown, options: Handlebars.RuntimeOptions) => string;

export interface CompiledTemplate {
  /** What messages call the template (its source path, or its place in the config). */
  readonly name: string;
  readonly run: TemplateFunction;
  /** References written as string literals (`{{secret "a:b"}}`), checkable before any render. */
  readonly literalRefs: readonly LiteralRef[];
  /** The most a render may produce; more fails (SIDECAR_ERR_RENDER_TOO_LARGE). */
  readonly maxBytes: number;
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
  JavaScriptCompiler: new () => { compile(environment: unknown, options: object, context: undefined, asObject: true): unknown };
}
const compilers = handlebars as unknown as HandlebarsCompilers;

// `each` is the one built-in that multiplies output: count what every iteration produces against the render's
// limit, so a loop over a large value (or loops in loops) stops early instead of exhausting memory.
const builtinEach = handlebars.helpers['each'] as Handlebars.HelperDelegate;
handlebars.registerHelper('each', function (this: unknown, context: unknown, options: Handlebars.HelperOptions) {
  const state = (options.data as { sidecar?: { spend(n: number): void } } | undefined)?.sidecar;
  const fn = options.fn;
  const counted = Object.assign((item: unknown, frame?: Handlebars.RuntimeOptions) => {
    const out = fn(item, frame);
    state?.spend(out.length);
    return out;
  }, fn);
  return builtinEach.call(this, context, { ...options, fn: counted }) as string;
});

const KNOWN_HELPERS: Record<string, boolean> = { log: false, ...Object.fromEntries(Object.keys(HELPERS).map((n) => [n, true])) };

export function compileTemplate(name: string, source: string, strict: boolean, maxBytes = DEFAULT_MAX_RENDER_BYTES): CompiledTemplate {
  const options = { data: true, noEscape: true, strict, knownHelpers: KNOWN_HELPERS, knownHelpersOnly: true, preventIndent: true };
  try {
    // Compile now rather than at first render (Handlebars' default), so that a broken template fails at load.
    const ast = handlebars.parse(source);
    rejectPartials(ast);
    const environment = new compilers.Compiler().compile(ast, options);
    const spec = new compilers.JavaScriptCompiler().compile(environment, options, undefined, true) as TemplateSpec;
    const run = handlebars.template(spec) as unknown as TemplateFunction;
    return { name, run, literalRefs: collectLiteralRefs(ast), maxBytes };
  } catch (error) {
    throw new SidecarError('SIDECAR_ERR_TEMPLATE_SYNTAX', `template "${name}" ${describeSyntaxError(error)}`, { cause: error });
  }
}

function describeSyntaxError(error: unknown): string {
  const e = error as { message?: string; hash?: { loc?: { first_line?: number; first_column?: number } }; lineNumber?: number; column?: number };
  const message = (e.message ?? String(error)).trim();
  const line = e.hash?.loc?.first_line ?? e.lineNumber ?? Number(/on line (\d+)/.exec(message)?.[1] ?? NaN);
  // Handlebars' parse errors carry a source excerpt and a caret; keep only the "Expecting …" part.
  const reason = message.includes('\n') ? message.split('\n').slice(-1)[0] ?? message : message.replace(/ - \d+:\d+$/, '');
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

/** Walks the Handlebars AST for `secret` calls whose argument is a string literal. */
function collectLiteralRefs(ast: unknown): LiteralRef[] {
  const refs: LiteralRef[] = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (node === null || typeof node !== 'object') return;
    const n = node as AstNode;
    const first = n.params?.[0];
    if (n.path?.original === 'secret' && first?.type === 'StringLiteral' && typeof first.value === 'string') {
      refs.push({ text: first.value, line: n.loc?.start?.line ?? 0 });
    }
    for (const [key, value] of Object.entries(n)) if (key !== 'loc' && typeof value === 'object') visit(value);
  };
  visit(ast);
  return refs;
}
