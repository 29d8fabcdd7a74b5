import type { RenderState } from './render-state.js';

/*
 * Taint tracking. Strings are primitives and carry no marks, so what is derived from a secret is remembered by
 * value, per render: every leaf (and key) of a fetched secret, and every helper result computed from a tainted
 * input, maps to the literal reference it came from. A value equal to a secret's by chance is tainted too, which
 * only ever hides more.
 */

/** How a value derived from a secret is shown wherever a reference or argument is displayed. */
export function derivedLabel(origin: string): string {
  return `[derived from ${origin}]`;
}

/** Marks every leaf and key of `value` as derived from `origin` (keeping an earlier origin). */
export function taintValue(state: RenderState, value: unknown, origin: string): void {
  walk(state, value, (leaf) => {
    // true/false carry a bit, not a value: tainting them would label every literal flag in the template.
    if (leaf === '' || typeof leaf === 'boolean' || state.taint.has(leaf)) return false;
    state.taint.set(leaf, origin);
    return false;
  });
}

/** The literal reference `value` (or any part of it) was derived from, if any. */
export function originOf(state: RenderState, value: unknown): string | undefined {
  let origin: string | undefined;
  walk(state, value, (leaf) => {
    origin = state.taint.get(leaf) ?? (typeof leaf === 'string' ? embeddedOrigin(state, leaf) : undefined);
    return origin !== undefined;
  });
  return origin;
}

/** A value as a message may show it: its label when derived from a secret, else the value. */
export function shown(state: RenderState, value: string): string {
  const origin = originOf(state, value);
  return origin === undefined ? value : derivedLabel(origin);
}

/** Whether `value` (or any part of it) stands for a secret not fetched yet in this pass. */
export function isPending(state: RenderState, value: unknown): boolean {
  let found = false;
  walk(state, value, (leaf) => (found = typeof leaf === 'string' && leaf.includes(state.pending)));
  return found;
}

/**
 * Binary tokens and mask placeholders inside a longer text (a helper joined them in) keep their origin. The search
 * visits every tainted value: it is work like a loop's, counted against the budget before it is done (a literal
 * "<masked:" in a loop over a large secret would otherwise hold the event loop for seconds).
 */
function embeddedOrigin(state: RenderState, text: string): string | undefined {
  if (!text.includes(state.binaryMark) && !text.includes('<masked:')) return undefined;
  state.charge(state.taint.size);
  for (const [token, origin] of state.taint)
    if (typeof token === 'string' && token.length > 0 && text.includes(token) && (token.startsWith(state.binaryMark) || token.startsWith('<masked:')))
      return origin;
  return undefined;
}

/** Visits primitive leaves and object keys until `visit` returns true; every node (and KiB of text) costs a unit. */
function walk(state: RenderState, value: unknown, visit: (leaf: unknown) => boolean): boolean {
  state.charge(typeof value === 'string' ? 1 + (value.length >> 10) : 1);
  if (value === null || value === undefined) return false;
  if (typeof value !== 'object') return visit(value);
  if (value instanceof Uint8Array) return visit(value);
  for (const [key, item] of Object.entries(value)) {
    if (!Array.isArray(value) && visit(key)) return true;
    if (walk(state, item, visit)) return true;
  }
  return false;
}
