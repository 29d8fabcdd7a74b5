import Handlebars from 'handlebars';
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

const KNOWN_HELPERS: Record<string, boolean> = { log: false, ...Object.fromEntries(Object.keys(HELPERS).map((n) => [n, true])) };

export function compileTemplate(name: string, source: string, strict: boolean): CompiledTemplate {
  const options = { data: true, noEscape: true, strict, knownHelpers: KNOWN_HELPERS, knownHelpersOnly: true, preventIndent: true };
  try {
    // Compile now rather than at first render (Handlebars' default), so that a broken template fails at load.
    const ast = handlebars.parse(source);
    const environment = new compilers.Compiler().compile(ast, options);
    const spec = new compilers.JavaScriptCompiler().compile(environment, options, undefined, true) as TemplateSpec;
    const run = handlebars.template(spec) as unknown as TemplateFunction;
    return { name, run, literalRefs: collectLiteralRefs(ast) };
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
