import { define } from './helper-kit.js';

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

export const LOGIC_HELPERS = {
  eq: define('eq', (_state, [first, ...others]) => others.some((other) => other === first)),
  ne: define('ne', (_state, [a, b]) => a !== b),
  not: define('not', (_state, [value]) => !goTruth(value)),
  and: define('and', (_state, args) => args.find((v) => !goTruth(v)) ?? args[args.length - 1], false),
  or: define('or', (_state, args) => args.find((v) => goTruth(v)) ?? args[args.length - 1], false),
} as const;
