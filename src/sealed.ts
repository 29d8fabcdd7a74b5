import { inspect } from 'node:util';

const REDACTED = '[redacted]';

/**
 * Carries a secret value so that logging, JSON serialisation and util.inspect show `[redacted]`.
 * Only `reveal()` hands out the value, which keeps each place that needs it easy to find.
 */
export class Sealed<T = unknown> {
  readonly #value: T;

  constructor(value: T) {
    this.#value = value;
  }

  reveal(): T {
    return this.#value;
  }

  toJSON(): string {
    return REDACTED;
  }

  toString(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}

/** Every string leaf of a secret value, for scrubbing error messages and masking output. */
export function secretLeaves(value: unknown, into: Set<string> = new Set()): Set<string> {
  if (typeof value === 'string') {
    if (value.length > 0) into.add(value);
  } else if (typeof value === 'number' && Math.abs(value) >= 100) {
    // Short numbers (ports, flags) would garble every message they were scrubbed from.
    into.add(String(value));
  } else if (value instanceof Uint8Array) {
    // Binary bytes never appear as such in a message; their byte values would garble every number in one.
    return into;
  } else if (Array.isArray(value)) {
    for (const item of value) secretLeaves(item, into);
  } else if (value !== null && typeof value === 'object') {
    for (const item of Object.values(value)) secretLeaves(item, into);
  }
  return into;
}

/** Below this length a leaf is scrubbed only where it stands alone (see scrubSecrets). */
const SHORT_LEAF = 4;

/**
 * Replaces every occurrence of any secret leaf in `text`, longest first so that overlaps are covered. A short leaf
 * ("v", "on") is replaced only where it stands alone, not inside a longer word: replaced inside the message's own
 * wording ("in[redacted]alid") it would both garble the message and spell out the secret.
 */
export function scrubSecrets(text: string, leaves: Iterable<string>): string {
  const sorted = [...leaves].filter((leaf) => leaf.length > 0).sort((a, b) => b.length - a.length);
  let scrubbed = text;
  for (const leaf of sorted) {
    if (leaf.length >= SHORT_LEAF) scrubbed = scrubbed.split(leaf).join(REDACTED);
    else scrubbed = scrubbed.replace(new RegExp(`(?<![\\p{L}\\p{N}])${leaf.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\p{L}\\p{N}])`, 'gu'), REDACTED);
  }
  return scrubbed;
}
