import Handlebars, { type HelperOptions } from 'handlebars';
import { sortedKeys } from './go-json.js';
import { blockCost, define, helperError } from './helper-kit.js';
import type { RenderState } from './render-state.js';

/*
 * Blocks for what Go templates do and Handlebars' built-ins do not: `range` walks a map in sorted key order (as
 * Go does; `#each` keeps insertion order), `let` binds a value for a block whatever it is (`#with` skips empty
 * values), `assign` updates a variable `let … cell=true` made, and `unconverted` marks what the converter could
 * not translate. Every run of a body costs its share of the work budget, and loops count what they produce.
 */

type Frame = Record<string, unknown>;

function range(state: RenderState, [value]: unknown[], options: HelperOptions): string {
  const entries: [string | number, unknown][] = [];
  if (Array.isArray(value)) value.forEach((item, i) => entries.push([i, item]));
  else if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array))
    for (const key of sortedKeys(value)) entries.push([key, (value as Record<string, unknown>)[key]]);
  else if (value !== null && value !== undefined && value !== '')
    throw helperError(options, 'SIDECAR_ERR_RENDER_FAILED', `range takes a list or a map, got ${typeof value}`);
  state.charge(Math.floor(entries.length / 32));
  if (entries.length === 0) return options.inverse(this_(options));
  const cost = blockCost(state, options);
  let out = '';
  entries.forEach(([key, item], index) => {
    state.charge(cost);
    const data = Handlebars.createFrame((options.data ?? {}) as Frame) as Frame;
    Object.assign(data, { key, index, first: index === 0, last: index === entries.length - 1 });
    const text = options.fn(item, { data, blockParams: [item, key] });
    state.spend(text.length);
    out += text;
  });
  return out;
}

/** The context the block was called in: the inverse of `range` and the body of `let` run in it. */
function this_(options: HelperOptions): unknown {
  return (options as HelperOptions & { __context?: unknown }).__context;
}

/** Values made by `let … cell=true`: the only objects `assign` may change. */
const cells = new WeakSet<object>();

function letHelper(state: RenderState, [value]: unknown[], options: HelperOptions): string {
  const hash = options.hash as Record<string, unknown>;
  let bound = value;
  if (hash['cell'] === true) {
    const cell = { value };
    cells.add(cell);
    bound = cell;
  }
  state.charge(blockCost(state, options));
  return options.fn(this_(options), { data: options.data as Frame, blockParams: [bound] });
}

function assign(_state: RenderState, [cell, value]: unknown[], options: HelperOptions): string {
  if (cell === null || typeof cell !== 'object' || !cells.has(cell))
    throw helperError(options, 'SIDECAR_ERR_RENDER_FAILED', 'assign takes a variable made by {{#let value cell=true as |name|}}');
  (cell as { value: unknown }).value = value;
  return '';
}

function unconverted(_state: RenderState, [message]: unknown[], options: HelperOptions): never {
  throw helperError(
    options,
    'SIDECAR_ERR_RENDER_FAILED',
    `unconverted: ${typeof message === 'string' ? message : 'a construct the converter could not translate'}`,
  );
}

/**
 * Handlebars calls a block helper with the context as `this`; `define` hides it, so these wrappers pass it in
 * the options (`__context`), which no template can reach.
 */
function withContext(helper: (...all: unknown[]) => unknown): (...all: unknown[]) => unknown {
  return function (this: unknown, ...all: unknown[]): unknown {
    const options = all[all.length - 1] as HelperOptions & { __context?: unknown };
    options.__context = this;
    return helper.apply(this, all);
  };
}

export const BLOCK_HELPERS = {
  range: withContext(define('range', range, false)),
  let: withContext(define('let', letHelper, false)),
  assign: define('assign', assign, false),
  unconverted: define('unconverted', unconverted, false),
} as const;
