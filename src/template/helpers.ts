import type { HelperOptions } from 'handlebars';
import { isDeniedEnv, matchesEnvPattern } from '../config/env-pattern.js';
import { SidecarError } from '../errors.js';
import { secretLeaves } from '../sealed.js';
import { BLOCK_HELPERS } from './block-helpers.js';
import { GO_FORMAT_HELPERS } from './go-helpers.js';
import { define, helperError, lineOf, passMask, reserve, textOf } from './helper-kit.js';
import type { RenderState, SecretLookup } from './render-state.js';
import { forced, Lazy, LOGIC_HELPERS } from './logic-helpers.js';
import { parseSecretRef, secretKey, selectKey, type SecretRef } from './secret-ref.js';
import { derivedLabel, isPending, originOf, shown, taintValue } from './taint.js';
import { TEXT_HELPERS } from './text-helpers.js';

export { helperError, lineOf } from './helper-kit.js';

/*
 * The helpers a template may call. None of them can read a file or run a command: the only data a template
 * reaches is the secrets it names and the environment variables the config allows. Every call is counted
 * against the render's work budget, checked against its helper's shape, passes "not fetched yet" through, and
 * marks its result as derived from whatever secret its inputs came from.
 */

/**
 * Objects print as JSON rather than "[object Object]", so `{{secret "x"}}` on a structured secret is useful.
 * toString is non-enumerable so `#each` and `json` do not see it.
 */
function printable(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(printable);
  if (value === null || typeof value !== 'object') return value;
  const copy: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) copy[k] = printable(v);
  Object.defineProperty(copy, 'toString', { value: () => JSON.stringify(value), enumerable: false });
  return copy;
}

function masked(value: unknown, label: string, state: RenderState): unknown {
  if (Array.isArray(value)) return value.map((item, i) => masked(item, `${label}.${i}`, state));
  if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array)) {
    const copy: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) copy[k] = masked(v, label.includes('#') ? `${label}.${k}` : `${label}#${k}`, state);
    return printable(copy);
  }
  const placeholder = `<masked:${label}>`;
  state.masks.set(placeholder, value);
  return placeholder;
}

/** A binary value (a Buffer from a backend, decoded base64 that is not UTF-8) travels as a token until output. */
function binaryToken(state: RenderState, bytes: Uint8Array): string {
  const token = `${state.binaryMark}${state.binaries.size}\u0000`;
  state.binaries.set(token, bytes);
  return token;
}

/** The value with every byte array in it (at any depth) replaced by its token. */
function withBinaryTokens(state: RenderState, value: unknown): unknown {
  if (value instanceof Uint8Array) return binaryToken(state, value);
  if (Array.isArray(value)) return value.map((item) => withBinaryTokens(state, item));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withBinaryTokens(state, v)]));
}

function bytesOf(state: RenderState, value: unknown): Uint8Array | undefined {
  return typeof value === 'string' ? state.binaries.get(value) : undefined;
}

/** A mask placeholder stands for its real value wherever a reference is computed from it. */
function unmasked(state: RenderState, value: unknown): unknown {
  return typeof value === 'string' && state.masks.has(value) ? state.masks.get(value) : value;
}

/** Hash arguments other than `default` are the request's parameters (a certificate's common_name, ttl, …). */
function requestParams(state: RenderState, options: HelperOptions): Record<string, string> {
  const params: Record<string, string> = {};
  for (const [name, raw] of Object.entries(options.hash as Record<string, unknown>)) {
    if (name === 'default') continue;
    const value = unmasked(state, raw);
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw helperError(options, 'SIDECAR_ERR_RENDER_FAILED', `secret argument ${name}= must be text, a number or true/false`);
    }
    params[name] = textOf(state, value, `secret argument ${name}=`, options);
  }
  return params;
}

/** The label a text derived from a secret shows as, for parseSecretRef. */
function derivedText(state: RenderState, original: Map<string, unknown>): (text: string) => string | undefined {
  return (text) => {
    const origin = originOf(state, original.get(text) ?? text);
    return origin === undefined ? undefined : derivedLabel(origin);
  };
}

function secret(state: RenderState, args: unknown[], options: HelperOptions): unknown {
  const written = args[0];
  const real = unmasked(state, written);
  if (typeof real !== 'string') throw helperError(options, 'SIDECAR_ERR_RENDER_FAILED', 'secret takes one reference string, like {{secret "name:path#key"}}');
  // Derived-ness is judged on what the template handed over (a placeholder in mask mode) and on the real text.
  const original = new Map<string, unknown>([[real, written]]);
  for (const value of Object.values(options.hash as Record<string, unknown>)) {
    const r = unmasked(state, value);
    if (typeof r === 'string' || typeof r === 'number' || typeof r === 'boolean') original.set(String(r), value);
  }
  let ref: SecretRef;
  let key: string;
  let found: SecretLookup;
  try {
    ref = parseSecretRef(textOf(state, real, 'a secret reference', options), requestParams(state, options), derivedText(state, original));
    key = secretKey(ref);
    state.used.add(key);
    found = state.options.store.lookup(key, ref);
  } catch (error) {
    const line = lineOf(options);
    if (line !== undefined && error instanceof SidecarError && !error.message.startsWith('line '))
      throw new SidecarError(error.code, `line ${line}: ${error.message}`, error.hint === undefined ? {} : { hint: error.hint });
    throw error;
  }
  if (found.status === 'missing') {
    state.missing.set(key, ref);
    return state.pending;
  }
  const fallback = (options.hash as Record<string, unknown>)['default'];
  const selected = selectKey(found.value, ref.keyPath);
  if (!selected.found || selected.value === undefined) {
    if (fallback !== undefined) return fallback;
    if (state.options.errorOnMissingKey)
      throw helperError(
        options,
        'SIDECAR_ERR_RENDER_MISSING_KEY',
        `secret "${ref.shown}" has no key "${ref.shown === ref.text ? ref.keyPath.join('.') : '…'}"`,
      );
    return '';
  }
  // What the value derives from: the literal this reference was computed from, or the reference itself.
  const origin = originOf(state, [...original.values()]) ?? ref.text;
  secretLeaves(selected.value, state.leaves);
  taintValue(state, selected.value, origin);
  const value = withBinaryTokens(state, selected.value);
  const result = state.options.mask ? masked(value, ref.shown, state) : printable(value);
  taintValue(state, result, origin);
  return result;
}

function json(state: RenderState, [value]: unknown[], options: HelperOptions): string {
  const raw = (options.hash as Record<string, unknown>)['indent'];
  const indent = typeof raw === 'number' ? Math.max(0, Math.min(10, Math.floor(raw))) : 0;
  reserve(state, jsonSize(state, value, indent, 0, options));
  return JSON.stringify(value, null, indent || undefined) ?? 'null';
}

/** The length JSON.stringify(value, null, indent) will have (an upper bound), without building it. */
function jsonSize(state: RenderState, value: unknown, indent: number, depth: number, options: HelperOptions): number {
  state.charge(1);
  if (value === undefined || typeof value === 'function') return 4;
  if (typeof value === 'string') {
    if (value.includes(state.binaryMark)) throw helperError(options, 'SIDECAR_ERR_RENDER_BINARY', 'json was given binary bytes, which are not text');
    return JSON.stringify(value).length;
  }
  if (value === null || typeof value !== 'object') return `${value as number | boolean | null}`.length;
  const entries = Array.isArray(value) ? value.map((v): [string | undefined, unknown] => [undefined, v]) : Object.entries(value);
  const perEntry = indent > 0 ? 1 + (depth + 1) * indent : 0;
  let size = 2 + entries.length + (indent > 0 ? 1 + depth * indent : 0);
  for (const [k, v] of entries) size += perEntry + (k === undefined ? 0 : JSON.stringify(k).length + 2) + jsonSize(state, v, indent, depth + 1, options);
  return size;
}

function base64Encode(state: RenderState, [value]: unknown[], options: HelperOptions): string {
  if (passMask(state, value)) return value;
  const bytes = bytesOf(state, value);
  if (bytes) {
    reserve(state, Math.ceil(bytes.length / 3) * 4);
    return Buffer.from(bytes).toString('base64');
  }
  const input = textOf(state, value, 'base64Encode', options);
  reserve(state, Math.ceil(Buffer.byteLength(input) / 3) * 4);
  return Buffer.from(input, 'utf8').toString('base64');
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const BASE64_URL = /^[A-Za-z0-9_-]*$/;
const UTF8 = new TextDecoder('utf-8', { fatal: true });

function base64Decode(state: RenderState, [value]: unknown[], options: HelperOptions): string {
  if (passMask(state, value)) return value;
  const input = textOf(state, value, 'base64Decode', options).replace(/\s+/g, '');
  state.charge(Math.floor(input.length / 1024));
  let bytes: Buffer;
  if (BASE64.test(input)) bytes = Buffer.from(input, 'base64');
  else if (BASE64_URL.test(input)) bytes = Buffer.from(input, 'base64url');
  else throw helperError(options, 'SIDECAR_ERR_RENDER_FAILED', 'base64Decode was given text that is not base64');
  try {
    return UTF8.decode(bytes);
  } catch {
    // Not text (a keystore, a DER key): its bytes are kept as they are.
    return binaryToken(state, bytes);
  }
}

function defaultHelper(_state: RenderState, [value, fallback]: unknown[]): unknown {
  return value === undefined || value === null || value === '' ? fallback : value;
}

function trim(state: RenderState, [value]: unknown[], options: HelperOptions): string {
  if (passMask(state, value)) return value;
  return textOf(state, value, 'trim', options).trim();
}

function indent(state: RenderState, [value, width]: unknown[], options: HelperOptions): string {
  if (typeof width !== 'number' || !Number.isInteger(width) || width < 0)
    throw helperError(options, 'SIDECAR_ERR_RENDER_FAILED', 'indent takes text and a number of spaces');
  const text = textOf(state, value, 'indent', options);
  let lines = text.length > 0 && !text.startsWith('\n') ? 1 : 0;
  for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) if (at + 1 < text.length && text[at + 1] !== '\n') lines++;
  reserve(state, text.length + width * lines);
  const pad = ' '.repeat(width);
  return text
    .split('\n')
    .map((line) => (line.length ? pad + line : line))
    .join('\n');
}

function env(state: RenderState, [name]: unknown[], options: HelperOptions): unknown {
  if (typeof name !== 'string') throw helperError(options, 'SIDECAR_ERR_RENDER_FAILED', 'env takes a variable name');
  if (!matchesEnvPattern(name, state.options.envAllow)) {
    throw helperError(options, 'SIDECAR_ERR_RENDER_FAILED', `env "${shown(state, name)}" is not allowed; list it in the config's env_allow`);
  }
  if (isDeniedEnv(name, state.options.envAllow, state.options.envDeny ?? [])) {
    const pattern = (state.options.envDeny ?? []).find((entry) => matchesEnvPattern(name, [entry])) ?? name;
    throw helperError(
      options,
      'SIDECAR_ERR_RENDER_FAILED',
      `env "${shown(state, name)}" is among the sidecar's own credential variables (${pattern}, …); env_allow must name it exactly, not by a prefix, to let templates read it`,
    );
  }
  const value = state.options.env[name] ?? '';
  // The environment can hold credentials too: its values are treated as secrets, masked in dry runs.
  const origin = originOf(state, name) ?? `env:${name}`;
  taintValue(state, value, origin);
  if (!state.options.mask || value === '') return value;
  const placeholder = masked(value, origin.startsWith('env:') ? origin : derivedLabel(origin), state);
  taintValue(state, placeholder, origin);
  return placeholder;
}

/**
 * The keys under a path (Vault/OpenBao LIST, KV v1 and v2), sorted: a reference ending in "/" is a listing, and
 * the backend answers it with the list of names.
 */
function list(state: RenderState, [written]: unknown[], options: HelperOptions): unknown {
  const real = unmasked(state, written);
  if (typeof real !== 'string' || real.includes('#'))
    throw helperError(options, 'SIDECAR_ERR_RENDER_FAILED', 'list takes one reference to a path, like {{list "name:secret/app/"}}');
  if (real.endsWith('/')) return secret(state, [written], options);
  const listing = `${real}/`;
  // The listing's reference is derived from whatever the written one was.
  const origin = originOf(state, written);
  if (origin !== undefined) taintValue(state, listing, origin);
  return secret(state, [listing], options);
}

/** Handlebars' `lookup` (own properties only), on a value a deferred call computed. */
function lazyLookup(state: RenderState, [object, key]: unknown[], options: HelperOptions): unknown {
  if (isPending(state, object) || isPending(state, key)) return state.pending;
  // Into maps and lists only: a character of a text would leave its secret's taint behind.
  if (object === null || typeof object !== 'object' || (typeof key !== 'string' && typeof key !== 'number')) return undefined;
  return (options as HelperOptions & { lookupProperty: (o: unknown, k: string | number) => unknown }).lookupProperty(object, key);
}

/** `(deferred "len" x)`: the call, made only when `and`/`or` reach it (see Lazy). */
function deferred(state: RenderState, [name, ...args]: unknown[], options: HelperOptions): Lazy {
  if (name === 'lookup') return new Lazy(() => lazyLookup(state, args.map(forced), options));
  if (typeof name !== 'string' || name === 'deferred' || !Object.hasOwn(HELPERS, name))
    throw helperError(options, 'SIDECAR_ERR_RENDER_FAILED', 'deferred takes the name of a helper and its arguments');
  const helper = (HELPERS as Record<string, (...all: unknown[]) => unknown>)[name] as (...all: unknown[]) => unknown;
  // and/or decide for themselves which of their arguments they reach; any other helper needs them all.
  return new Lazy(() => helper(...(name === 'and' || name === 'or' ? args : args.map(forced)), options));
}

export const HELPERS = {
  secret: define('secret', secret, false),
  list: define('list', list, false),
  json: define('json', json),
  base64Encode: define('base64Encode', base64Encode),
  base64Decode: define('base64Decode', base64Decode),
  default: define('default', defaultHelper, false),
  trim: define('trim', trim),
  indent: define('indent', indent),
  env: define('env', env, false),
  ...TEXT_HELPERS,
  ...GO_FORMAT_HELPERS,
  ...LOGIC_HELPERS,
  ...BLOCK_HELPERS,
  deferred: define('deferred', deferred, false),
} as const;
