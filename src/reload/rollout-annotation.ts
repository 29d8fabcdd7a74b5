import { createHash } from 'node:crypto';
import { compareOrder, compareSourceVersions, type SourceVersion } from '../source-version.js';

/**
 * The pod-template annotation a rollout target sets. Its value is a JSON object: for each secret reference (keyed
 * by a digest of its label, so the cluster learns no paths), the version the source gave it, as "order:id". It is
 * derived from version metadata only, so every replica that saw the same versions computes the same text, and N
 * replicas patching it cause one rollout.
 */
export const ROLLOUT_ANNOTATION = 'secrets-sidecar/secret-versions';

/** Versions by the label of their reference. */
export type VersionMap = ReadonlyMap<string, SourceVersion>;

/** A version id kept as it is only when short and plain; anything else (a client's own token, odd bytes) by its digest. */
const PLAIN_ID = /^[A-Za-z0-9._~-]{1,64}$/;

function refKey(label: string): string {
  return createHash('sha256').update(label).digest('hex').slice(0, 16);
}

function encodeVersion(version: SourceVersion): string {
  const id = PLAIN_ID.test(version.id) ? version.id : `~${createHash('sha256').update(version.id).digest('hex').slice(0, 16)}`;
  return `${version.order.map((n) => (Number.isSafeInteger(n) && n >= 0 ? n : 0)).join('.')}:${id}`;
}

function decodeVersion(text: unknown): SourceVersion | undefined {
  if (typeof text !== 'string') return undefined;
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  const order = colon === 0 ? [] : text.slice(0, colon).split('.').map(Number);
  if (!order.every((n) => Number.isSafeInteger(n) && n >= 0)) return undefined;
  return { id: text.slice(colon + 1), order };
}

/** The annotation's entries; anything unreadable (absent, hand-edited) counts as no entry. */
export function parseAnnotation(text: string | undefined): Map<string, SourceVersion> {
  const entries = new Map<string, SourceVersion>();
  if (text === undefined) return entries;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return entries;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return entries;
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    const version = decodeVersion(value);
    if (version) entries.set(key, version);
  }
  return entries;
}

/**
 * The references whose version in `now` is newer than in `before` (a reference new to `before` is not a change).
 * A different version made at the same instant (AWS dates tie within their precision) counts as newer: this
 * replica saw it replace the other.
 */
export function newerVersions(now: VersionMap, before: VersionMap): string[] {
  return [...now]
    .filter(([label, version]) => {
      const old = before.get(label);
      if (old === undefined) return false;
      const byOrder = compareOrder(version, old);
      return byOrder > 0 || (byOrder === 0 && version.id !== old.id);
    })
    .map(([label]) => label);
}

/**
 * The annotation to write so that it holds `ours`, or undefined when it already holds these versions or newer
 * ones. Entry by entry the newer version wins, so a replica that is behind never moves it back, and entries of
 * references this replica does not know (another rollout target's) are kept. `seenChanging`: the references this
 * replica saw change, which win a tie of creation times.
 */
export function planAnnotation(current: string | undefined, ours: VersionMap, seenChanging: ReadonlySet<string> = new Set()): string | undefined {
  const entries = parseAnnotation(current);
  let changed = false;
  for (const [label, version] of ours) {
    const key = refKey(label);
    const held = entries.get(key);
    // Compared as written: an id kept by its digest compares as that digest on every replica.
    const mine = decodeVersion(encodeVersion(version)) ?? version;
    // Two versions made at the same instant have no order but the one this replica saw them come in: a version it
    // saw replace the one it had wins the tie, rather than a rotation being lost to how its id is spelt.
    const tieWon = held !== undefined && seenChanging.has(label) && compareOrder(mine, held) === 0 && mine.id !== held.id;
    if (held !== undefined && !tieWon && compareSourceVersions(mine, held) <= 0) continue;
    entries.set(key, mine);
    changed = true;
  }
  if (!changed) return undefined;
  const sorted = [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify(Object.fromEntries(sorted.map(([key, version]) => [key, encodeVersion(version)])));
}
