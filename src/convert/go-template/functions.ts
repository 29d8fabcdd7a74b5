import type { Arg } from './ast.js';
import { Unconvertible, VALUE, type Expr } from './expression.js';
import { hbSegment, hbString, NotExpressible } from './handlebars-syntax.js';
import type { Position } from './lexer.js';

/** A Go function call's arguments: translated, with the nodes they came from (literals are read from those). */
export interface CallArgs {
  readonly exprs: readonly Expr[];
  /** The written argument, or undefined for the value piped in from the previous command. */
  readonly nodes: readonly (Arg | undefined)[];
}

export interface CallContext {
  readonly vaultBackend: string;
  readonly pos: Position;
}

type Translation = (args: CallArgs, ctx: CallContext) => Expr;

const CONSUL_KV = 'Consul KV is not a secret store the sidecar reads: keep the value in Vault/OpenBao KV (read it with `secret`) or a `file` backend';
const CONSUL_CATALOG = 'service discovery is not a secret: take addresses from the platform (Kubernetes Services, DNS) or keep consul-template for this file';
const NOMAD = 'Nomad variables and services are not read by the sidecar: keep the value in Vault/OpenBao KV and read it with `secret`';

/** Functions with no counterpart, and what to do instead. */
const UNSUPPORTED: Readonly<Record<string, string>> = {
  ...Object.fromEntries(['key', 'keyExists', 'keyOrDefault', 'ls', 'safeLs', 'tree', 'safeTree'].map((n) => [n, CONSUL_KV])),
  ...Object.fromEntries(
    [
      'service',
      'services',
      'connect',
      'node',
      'nodes',
      'datacenters',
      'partitions',
      'peerings',
      'exportedServices',
      'importedServices',
      'caRoots',
      'caLeaf',
    ].map((n) => [n, CONSUL_CATALOG]),
  ),
  ...Object.fromEntries(['nomadServices', 'nomadService', 'nomadVarList', 'nomadVarListSafe', 'nomadVar', 'nomadVarExists'].map((n) => [n, NOMAD])),
  plugin: 'runs a program, which no sidecar template may do: compute the value beforehand and store it as a secret, or render this file another way',
  executeTemplate: 'named templates are not supported: write the named template body in place',
  file: 'reads a file: declare a `file` backend in sidecar.hcl and read it with `secret "files:…"`',
  writeToFile: 'writes files from a template: give each output its own template block',
  scratch: 'scratch storage has no counterpart: use a variable (`$x := …`) or compute the value in place',
  mustEnv: 'use `env`, and list the variable in env_allow',
  envOrDefault: 'use `default (env "NAME") "fallback"`',
  timestamp: 'the render time changes every render, which would rewrite the file each time; leave it out',
};

export function unsupportedAdvice(name: string): string {
  return UNSUPPORTED[name] ?? `"${name}" has no counterpart in the sidecar's template language; compute the value another way`;
}

function fail(ctx: CallContext, construct: string, advice: string): never {
  throw new Unconvertible(construct, advice, ctx.pos);
}

function call(name: string, ...codes: string[]): string {
  return `(${[name, ...codes].join(' ')})`;
}

function literal(args: CallArgs, i: number): string | undefined {
  const node = args.nodes[i];
  return node?.kind === 'string' ? node.value : undefined;
}

function arity(name: string, args: CallArgs, ctx: CallContext, min: number, max = min): void {
  const n = args.exprs.length;
  if (n < min || n > max)
    fail(ctx, name, `takes ${min === max ? min : `${min} to ${max}`} arguments, got ${n} (the template does not run in consul-template either)`);
}

/** Text the reference is built from: `"vault:path"` for a literal, `printf "vault:…" …` for a computed path. */
function reference(args: CallArgs, ctx: CallContext): { code: string; path: string | undefined } {
  const backend = ctx.vaultBackend;
  const written = literal(args, 0);
  // consul-template parses the path as a URL: what follows a "#" is a fragment it drops; ours would read a key.
  if (written !== undefined) {
    const path = written
      .replace(/#.*$/s, '')
      .trim()
      .replace(/^\/+|\/+$/g, '');
    return { code: quoted(`${backend}:${path}`, ctx), path };
  }
  const first = args.exprs[0] as Expr;
  const node = args.nodes[0];
  // `secret (printf "secret/data/%s" $name)`: the backend joins the format, so the path stays one printf.
  if (node?.kind === 'pipeline' && node.pipe.cmds.length === 1) {
    const [fn, format] = node.pipe.cmds[0]?.args ?? [];
    if (fn?.kind === 'identifier' && fn.name === 'printf' && format?.kind === 'string' && first.code.startsWith('(printf ')) {
      if (format.value.includes('#'))
        fail(ctx, 'a path with "#"', 'consul-template drops what follows "#" in a path (a URL fragment); write the path without it');
      const rest = first.code.slice('(printf '.length + quoted(format.value, ctx).length);
      return { code: `(printf ${quoted(`${backend}:${format.value.replace(/^\/+/, '')}`, ctx)}${rest}`, path: format.value };
    }
  }
  return { code: call('printf', quoted(`${backend}:%s`, ctx), first.code), path: undefined };
}

function quoted(text: string, ctx: CallContext): string {
  try {
    return hbString(text);
  } catch (error) {
    if (error instanceof NotExpressible) fail(ctx, 'string literal', `${error.message} cannot be written in a Handlebars template`);
    throw error;
  }
}

/** `"common_name=app.internal"` → `common_name="app.internal"`. */
function writeArguments(name: string, args: CallArgs, ctx: CallContext): string[] {
  const out: string[] = [];
  for (let i = 1; i < args.exprs.length; i++) {
    const computed = computedWriteArgument(args, i, ctx);
    if (computed !== undefined) {
      out.push(computed);
      continue;
    }
    const text = literal(args, i);
    const eq = text?.indexOf('=') ?? -1;
    if (text === undefined || eq <= 0)
      fail(ctx, `${name} argument`, 'write arguments must be literal "key=value" strings to be converted; write the value into the converted template by hand');
    const key = text.slice(0, eq);
    if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key))
      fail(ctx, `${name} argument "${key}"`, 'this parameter name cannot be a template argument; rename or set it in the role');
    out.push(`${key}=${quoted(text.slice(eq + 1), ctx)}`);
  }
  return out;
}

/**
 * `(printf "common_name=%s.svc" $name)`: the key is the format's text before "=", the value the printf of the
 * rest (`common_name=(printf "%s.svc" name)`), as consul-template splits the computed text at its first "=".
 */
function computedWriteArgument(args: CallArgs, i: number, ctx: CallContext): string | undefined {
  const node = args.nodes[i];
  const code = (args.exprs[i] as Expr).code;
  if (node?.kind !== 'pipeline' || node.pipe.cmds.length !== 1) return undefined;
  const [fn, format] = node.pipe.cmds[0]?.args ?? [];
  if (fn?.kind !== 'identifier' || fn.name !== 'printf' || format?.kind !== 'string') return undefined;
  const eq = format.value.indexOf('=');
  // The key must be written out whole: no verb before the "=".
  if (eq <= 0 || format.value.slice(0, eq).includes('%') || !code.startsWith('(printf ')) return undefined;
  const key = format.value.slice(0, eq);
  if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)) return undefined;
  const rest = code.slice('(printf '.length + quoted(format.value, ctx).length);
  return `${key}=(printf ${quoted(format.value.slice(eq + 1), ctx)}${rest}`;
}

/**
 * KV v2 paths are written `<mount>/data/<path>`; consul-template also adds `data/` itself on a KV v2 mount, so a
 * path without it may be either: the fields the template reads (`.Data.data.key` or `.Data.key`) tell.
 */
function isKv2Path(path: string | undefined): boolean | undefined {
  return path !== undefined && /^[^/]+\/data(\/|$)/.test(path) ? true : undefined;
}

function simple(ours: string, order: (exprs: readonly Expr[]) => readonly Expr[], min: number, max = min): Translation {
  return (args, ctx) => {
    arity(ours, args, ctx, min, max);
    return { code: call(ours, ...order(args.exprs).map((e) => e.code)), kind: VALUE };
  };
}

const same = (e: readonly Expr[]) => e;
/** Go's helpers take the piped value last; ours take it first. */
const lastFirst = (e: readonly Expr[]) => [e[e.length - 1] as Expr, ...e.slice(0, -1)];

/**
 * Go's and/or evaluate an argument only when the ones before it did not decide (`and .x (gt (len .x) 0)`); ours
 * receive them evaluated. A written argument after the first has its calls made through `deferred`, whose failure
 * and/or throw only if they reach it. (A piped value is evaluated first in Go too.)
 */
function lazy(ours: 'and' | 'or'): Translation {
  return (args, ctx) => {
    arity(ours, args, ctx, 1, Infinity);
    const codes = args.exprs.map((e, i) => (i > 0 && args.nodes[i] !== undefined ? deferCalls(e.code) : e.code));
    return { code: call(ours, ...codes), kind: VALUE };
  };
}

/** `(gt (len x) 0)` → `(deferred "gt" (deferred "len" x) 0)`; string literals and `[…]` segments are left as they are. */
export function deferCalls(code: string): string {
  let out = '';
  for (let i = 0; i < code.length; i++) {
    const c = code[i] as string;
    if (c === '"' || c === "'" || c === '[') {
      const close = c === '[' ? ']' : c;
      let j = i + 1;
      while (j < code.length && code[j] !== close) j += code[j] === '\\' && code[j + 1] === close ? 2 : 1;
      out += code.slice(i, j + 1);
      i = j;
      continue;
    }
    const name = c === '(' ? /^\(([A-Za-z_][A-Za-z0-9_]*)(?=[\s)])/.exec(code.slice(i, i + 64))?.[1] : undefined;
    if (name !== undefined && name !== 'deferred') {
      out += `(deferred "${name}"`;
      i += name.length;
      continue;
    }
    out += c;
  }
  return out;
}

/** printf: only %s, %d, %v, %q, %t and %% (with no flags or width) convert. */
function printf(args: CallArgs, ctx: CallContext): Expr {
  if (args.exprs.length === 0) fail(ctx, 'printf', 'takes a format');
  const format = literal(args, 0);
  if (format !== undefined) {
    const bad = /%(?![sdvqt%])[^a-zA-Z%]*[a-zA-Z%]?/.exec(format);
    if (bad) fail(ctx, `printf verb ${bad[0]}`, 'only %s, %d, %v, %q, %t and %% convert; format the value another way');
  }
  return { code: call('printf', ...args.exprs.map((e) => e.code)), kind: VALUE };
}

/** Go's print (fmt.Sprint): operands side by side, with a space between two that are not text (known here for literals). */
function print(args: CallArgs, ctx: CallContext): Expr {
  if (args.exprs.length === 0) return { code: '(printf "")', kind: VALUE };
  const notText = (n: Arg | undefined) => n?.kind === 'number' || n?.kind === 'bool';
  const format = args.nodes.map((n, i) => (i > 0 && notText(args.nodes[i - 1]) && notText(n) ? ' %v' : '%v')).join('');
  return { code: call('printf', quoted(format, ctx), ...args.exprs.map((e) => e.code)), kind: VALUE };
}

export const FUNCTIONS: Readonly<Record<string, Translation>> = {
  secret(args, ctx) {
    if (args.exprs.length === 0) fail(ctx, 'secret', 'takes a path');
    const { code, path } = reference(args, ctx);
    const params = writeArguments('secret', args, ctx);
    const literalRef = args.exprs.length === 1 && path !== undefined && literal(args, 0) !== undefined ? `${ctx.vaultBackend}:${path}` : undefined;
    const expr: Expr = { code: call('secret', code, ...params), kind: { t: 'secret', kv2: isKv2Path(path) } };
    return literalRef === undefined ? expr : { ...expr, literalRef };
  },
  pkiCert(args, ctx) {
    if (args.exprs.length === 0) fail(ctx, 'pkiCert', 'takes a path');
    const { code } = reference(args, ctx);
    return { code: call('secret', code, ...writeArguments('pkiCert', args, ctx)), kind: { t: 'pki' } };
  },
  secrets(args, ctx) {
    arity('secrets', args, ctx, 1);
    const { code } = reference(args, ctx);
    return { code: call('list', code), kind: VALUE };
  },
  env: simple('env', same, 1),
  base64Encode: simple('base64Encode', same, 1),
  base64Decode: simple('base64Decode', same, 1),
  toJSON: simple('toJSON', same, 1),
  toJSONPretty: simple('toJSONPretty', same, 1),
  toYAML: simple('toYAML', same, 1),
  replaceAll: simple('replace', lastFirst, 3),
  sprig_replace: simple('replace', lastFirst, 3),
  // Sprig's own names, which some templates use bare (consul-template's `trim` and `contains` differ: not here).
  replace: simple('replace', lastFirst, 3),
  upper: simple('upper', same, 1),
  lower: simple('lower', same, 1),
  toUpper: simple('upper', same, 1),
  sprig_upper: simple('upper', same, 1),
  toLower: simple('lower', same, 1),
  sprig_lower: simple('lower', same, 1),
  trimSpace: simple('trimSpace', same, 1),
  sprig_trim: simple('trimSpace', same, 1),
  split: simple('split', lastFirst, 2),
  join: simple('join', lastFirst, 2),
  sprig_join: simple('join', lastFirst, 2),
  contains: simple('contains', lastFirst, 2),
  sprig_contains: simple('contains', lastFirst, 2),
  indent: simple('indent', lastFirst, 2),
  printf,
  print,
  eq: simple('eq', same, 2, Infinity),
  ne: simple('ne', same, 2),
  not: simple('not', same, 1),
  and: lazy('and'),
  or: lazy('or'),
  len: simple('len', same, 1),
  lt: simple('lt', same, 2),
  le: simple('le', same, 2),
  gt: simple('gt', same, 2),
  ge: simple('ge', same, 2),
  index(args, ctx) {
    if (args.exprs.length === 0) fail(ctx, 'index', 'takes a map or list');
    let code = (args.exprs[0] as Expr).code;
    for (let i = 1; i < args.exprs.length; i++) {
      const key = literal(args, i);
      // A literal key on a path reads as a path (`this.[tls.crt]`), like any field.
      code =
        key !== undefined && !code.startsWith('(') && !/^["'0-9-]/.test(code) && !/[\]\s]/.test(key)
          ? `${code}.${hbSegment(key)}`
          : call('lookup', code, (args.exprs[i] as Expr).code);
    }
    return { code, kind: VALUE };
  },
};
