import type { HelperOptions } from 'handlebars';
import { compareCodePoints } from './go-json.js';
import { define, helperError } from './helper-kit.js';
import type { RenderState } from './render-state.js';

/*
 * Comparisons and logic as Go templates have them: `eq a b c` is true when a equals any of the others; `and`
 * and `or` give back one of their arguments (the first empty one, the first non-empty one, else the last);
 * "empty" is Go's: false, 0, null, "", an empty list or map.
 */

export function goTruth(value: unknown): boolean {
  if (value === null || value === undefined || value === false || value === 0 || value === '') return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object' && !(value instanceof Uint8Array)) return Object.keys(value).length > 0;
  return true;
}

/** Go's ordering: numbers with numbers, text with text (by bytes); anything else is an error, as in Go. */
function order(name: string): (state: RenderState, args: unknown[], options: HelperOptions) => boolean {
  return (_state, [a, b], options) => {
    let sign: number;
    if (typeof a === 'number' && typeof b === 'number') sign = Math.sign(a - b);
    else if (typeof a === 'string' && typeof b === 'string') sign = Math.sign(compareCodePoints(a, b));
    else throw helperError(options, 'SIDECAR_ERR_RENDER_FAILED', `${name} compares two numbers or two texts`);
    return name === 'lt' ? sign < 0 : name === 'le' ? sign <= 0 : name === 'gt' ? sign > 0 : sign >= 0;
  };
}

/** Go's len: items of a list, keys of a map, bytes of a text. */
function len(_state: RenderState, [value]: unknown[], options: HelperOptions): number {
  if (typeof value === 'string') return Buffer.byteLength(value);
  if (Array.isArray(value)) return value.length;
  if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array)) return Object.keys(value).length;
  throw helperError(options, 'SIDECAR_ERR_RENDER_FAILED', 'len takes a text, a list or a map');
}

/**
 * A call Go may never make: `and`/`or` evaluate their arguments lazily in Go (`and .x (gt (len .x) 0)` never
 * calls len on a missing .x, nor reads a secret it does not reach); Handlebars evaluates them all first. The
 * converter writes such arguments through `deferred`, which returns this; `and`/`or` run it only if they reach it.
 */
export class Lazy {
  readonly #run: () => unknown;
  #done = false;
  #value: unknown;
  constructor(run: () => unknown) {
    this.#run = run;
  }
  force(): unknown {
    if (!this.#done) {
      this.#value = this.#run();
      this.#done = true;
    }
    return this.#value;
  }
  toString(): string {
    return String(this.force());
  }
}

export function forced(value: unknown): unknown {
  return value instanceof Lazy ? value.force() : value;
}

/** Go's and/or: the first argument that decides (empty for and, non-empty for or), else the last. */
function decide(wanted: boolean): (state: RenderState, args: unknown[]) => unknown {
  return (_state, args) => {
    let value: unknown;
    for (const arg of args) {
      value = forced(arg);
      if (goTruth(value) === wanted) return value;
    }
    return value;
  };
}

export const LOGIC_HELPERS = {
  len: define('len', len),
  lt: define('lt', order('lt')),
  le: define('le', order('le')),
  gt: define('gt', order('gt')),
  ge: define('ge', order('ge')),
  eq: define('eq', (_state, [first, ...others]) => others.some((other) => other === first)),
  ne: define('ne', (_state, [a, b]) => a !== b),
  not: define('not', (_state, [value]) => !goTruth(value)),
  and: define('and', decide(false), false),
  or: define('or', decide(true), false),
} as const;
