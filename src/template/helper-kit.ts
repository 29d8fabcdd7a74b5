import type { HelperOptions } from 'handlebars';
import { SidecarError, type ErrorCode } from '../errors.js';
import { shapeMismatch } from './helper-arity.js';
import { currentState, renderTooLarge, type RenderState } from './render-state.js';
import { isPending, originOf, taintValue } from './taint.js';

/*
 * What every helper shares: the wrapper that counts it against the work budget, checks its call's shape, passes
 * "not fetched yet" through and taints its result; and the guards for text and sizes.
 */

export function lineOf(options: HelperOptions): number | undefined {
  return (options as HelperOptions & { loc?: { start?: { line?: number } } }).loc?.start?.line;
}

export function helperError(options: HelperOptions, code: ErrorCode, message: string): SidecarError {
  const line = lineOf(options);
  return new SidecarError(code, line === undefined ? message : `line ${line}: ${message}`);
}

export type Body = (state: RenderState, args: unknown[], options: HelperOptions) => unknown;

/** `propagate`: the result is tainted by its inputs (false where the body taints it itself). */
export function define(name: string, body: Body, propagate = true): (...all: unknown[]) => unknown {
  return function (this: unknown, ...all: unknown[]): unknown {
    const options = all.pop() as HelperOptions;
    const state = currentState();
    state.charge(1);
    const hash = options.hash as Record<string, unknown>;
    const mismatch = shapeMismatch(name, all.length, Object.keys(hash), typeof options.fn === 'function');
    if (mismatch !== undefined) throw helperError(options, 'SIDECAR_ERR_RENDER_FAILED', mismatch);
    const inputs = [...all, ...Object.values(hash)];
    // A value not fetched yet makes every result computed from it not known yet either.
    if (isPending(state, inputs)) return state.pending;
    const result = body(state, all, options);
    if (propagate) {
      const origin = originOf(state, inputs);
      if (origin !== undefined) {
        taintValue(state, result, origin);
        // A text computed from a secret is scrubbed from messages like the secret itself.
        if (typeof result === 'string' && result.length >= 4) state.leaves.add(result);
      }
    }
    return result;
  };
}

/** Text a helper may work on; binary bytes and objects are refused with a coded error. */
export function textOf(state: RenderState, value: unknown, what: string, options: HelperOptions): string {
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value !== 'string') throw helperError(options, 'SIDECAR_ERR_RENDER_FAILED', `${what} expects text, got ${value === null ? 'null' : typeof value}`);
  if (value.includes(state.binaryMark)) throw helperError(options, 'SIDECAR_ERR_RENDER_BINARY', `${what} was given binary bytes, which are not text`);
  return value;
}

/** Stops a helper before it builds a result larger than the whole render may be. */
export function reserve(state: RenderState, size: number): void {
  if (size > state.maxBytes) throw renderTooLarge(state.name, state.maxBytes);
  state.charge(Math.floor(size / 1024));
}

/** Transforming a placeholder would hide which reference it stands for; pass it through instead. */
export function passMask(state: RenderState, value: unknown): value is string {
  return typeof value === 'string' && state.masks.has(value);
}

type Loc = { start?: { line?: number; column?: number }; end?: { line?: number; column?: number } };

/** Characters of template source a block spans, from Handlebars' location (lines and columns). */
export function blockLength(state: RenderState, loc: Loc | undefined): number {
  const starts = state.lineStarts;
  const at = (p: { line?: number; column?: number } | undefined) => (starts[(p?.line ?? 1) - 1] ?? 0) + (p?.column ?? 0);
  return Math.max(0, at(loc?.end) - at(loc?.start));
}

/** What one run of a block's body costs: one unit plus one per 32 characters of its source. */
export function blockCost(state: RenderState, options: HelperOptions): number {
  return 1 + Math.floor(blockLength(state, (options as { loc?: Loc }).loc) / 32);
}
