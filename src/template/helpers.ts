import type { HelperOptions } from 'handlebars';
import { isDeniedEnv, matchesEnvPattern } from '../config/env-pattern.js';
import { SidecarError } from '../errors.js';
import { secretLeaves } from '../sealed.js';
import type { RenderState, SecretLookup } from './render-state.js';
import { parseSecretRef, secretKey, selectKey, type SecretRef } from './secret-ref.js';

/*
 * The helpers a template may call. None of them can read a file or run a command: the only data a template
 * reaches is the secrets it names and the environment variables the config allows.
 */

export function stateOf(options: HelperOptions): RenderState {
  const state = (options.data as { sidecar?: RenderState } | undefined)?.sidecar;
  if (!state) throw new Error('secrets-sidecar helpers called outside a render');
  return state;
}

export function lineOf(options: HelperOptions): number | undefined {
  return (options as HelperOptions & { loc?: { start?: { line?: number } } }).loc?.start?.line;
}

function helperError(options: HelperOptions, code: 'SIDECAR_ERR_RENDER_FAILED' | 'SIDECAR_ERR_RENDER_MISSING_KEY', message: string): SidecarError {
  const line = lineOf(options);
  return new SidecarError(code, line === undefined ? message : `line ${line}: ${message}`);
}

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
  if (value !== null && typeof value === 'object') {
    const copy: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) copy[k] = masked(v, label.includes('#') ? `${label}.${k}` : `${label}#${k}`, state);
    return printable(copy);
  }
  const placeholder = `<masked:${label}>`;
  state.masks.add(placeholder);
  return placeholder;
}

/** Hash arguments other than `default` are the request's parameters (a certificate's common_name, ttl, …). */
function requestParams(options: HelperOptions): Record<string, string> {
  const params: Record<string, string> = {};
  for (const [name, value] of Object.entries(options.hash as Record<string, unknown>)) {
    if (name === 'default') continue;
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw helperError(options, 'SIDECAR_ERR_RENDER_FAILED', `secret argument ${name}= must be text, a number or true/false`);
    }
    params[name] = String(value);
  }
  return params;
}

function secret(this: unknown, ...args: unknown[]): unknown {
  const options = args.pop() as HelperOptions;
  const state = stateOf(options);
  if (args.length !== 1 || typeof args[0] !== 'string') throw helperError(options, 'SIDECAR_ERR_RENDER_FAILED', 'secret takes one reference string, like {{secret "name:path#key"}}');
  let ref: SecretRef;
  let key: string;
  let found: SecretLookup;
  try {
    ref = parseSecretRef(args[0], requestParams(options));
    key = secretKey(ref);
    state.used.add(key);
    found = state.options.store.lookup(key, ref);
  } catch (error) {
    const line = lineOf(options);
    if (line !== undefined && error instanceof SidecarError) throw new SidecarError(error.code, `line ${line}: ${error.message}`);
    throw error;
  }
  if (found.status === 'missing') {
    state.missing.set(key, ref);
    return '';
  }
  const fallback = (options.hash as Record<string, unknown>)['default'];
  const selected = selectKey(found.value, ref.keyPath);
  if (!selected.found || selected.value === undefined) {
    if (fallback !== undefined) return fallback;
    if (state.options.errorOnMissingKey) throw helperError(options, 'SIDECAR_ERR_RENDER_MISSING_KEY', `secret "${ref.text}" has no key "${ref.keyPath.join('.')}"`);
    return '';
  }
  secretLeaves(selected.value, state.leaves);
  return state.options.mask ? masked(selected.value, ref.text, state) : printable(selected.value);
}

function text(value: unknown, name: string, options: HelperOptions): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw helperError(options, 'SIDECAR_ERR_RENDER_FAILED', `${name} expects text, got ${value === null ? 'null' : typeof value}`);
}

/** Transforming a placeholder would hide which reference it stands for; pass it through instead. */
function passMask(value: unknown, options: HelperOptions): value is string {
  return typeof value === 'string' && stateOf(options).masks.has(value);
}

function json(value: unknown, options: HelperOptions): string {
  const indent = (options.hash as Record<string, unknown>)['indent'];
  return JSON.stringify(value, null, typeof indent === 'number' ? indent : undefined) ?? 'null';
}

function base64Encode(value: unknown, options: HelperOptions): string {
  if (passMask(value, options)) return value;
  return Buffer.from(text(value, 'base64Encode', options), 'utf8').toString('base64');
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const BASE64_URL = /^[A-Za-z0-9_-]*$/;

function base64Decode(value: unknown, options: HelperOptions): string {
  if (passMask(value, options)) return value;
  const input = text(value, 'base64Decode', options).replace(/\s+/g, '');
  if (BASE64.test(input)) return Buffer.from(input, 'base64').toString('utf8');
  if (BASE64_URL.test(input)) return Buffer.from(input, 'base64url').toString('utf8');
  throw helperError(options, 'SIDECAR_ERR_RENDER_FAILED', 'base64Decode was given text that is not base64');
}

function defaultHelper(value: unknown, fallback: unknown, options: HelperOptions): unknown {
  if (arguments.length !== 3) throw helperError(options, 'SIDECAR_ERR_RENDER_FAILED', 'default takes a value and a fallback');
  return value === undefined || value === null || value === '' ? fallback : value;
}

function trim(value: unknown, options: HelperOptions): string {
  if (passMask(value, options)) return value;
  return text(value, 'trim', options).trim();
}

function indent(value: unknown, width: unknown, options: HelperOptions): string {
  if (typeof width !== 'number' || !Number.isInteger(width) || width < 0) throw helperError(options, 'SIDECAR_ERR_RENDER_FAILED', 'indent takes text and a number of spaces');
  const pad = ' '.repeat(width);
  return text(value, 'indent', options).split('\n').map((line) => (line.length ? pad + line : line)).join('\n');
}

function env(name: unknown, options: HelperOptions): string {
  const state = stateOf(options);
  if (typeof name !== 'string') throw helperError(options, 'SIDECAR_ERR_RENDER_FAILED', 'env takes a variable name');
  if (!matchesEnvPattern(name, state.options.envAllow)) {
    throw helperError(options, 'SIDECAR_ERR_RENDER_FAILED', `env "${name}" is not allowed; list it in the config's env_allow`);
  }
  if (isDeniedEnv(name, state.options.envAllow, state.options.envDeny ?? [])) {
    throw helperError(options, 'SIDECAR_ERR_RENDER_FAILED', `env "${name}" is among the sidecar's own credential variables (VAULT_*, AWS_*, …); env_allow must name it exactly, not by a prefix, to let templates read it`);
  }
  return state.options.env[name] ?? '';
}

export const HELPERS = { secret, json, base64Encode, base64Decode, default: defaultHelper, trim, indent, env } as const;
