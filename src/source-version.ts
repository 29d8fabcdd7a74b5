/**
 * A secret's version as its source names it (a KV v2 version, an AWS version id, an Azure version): metadata that
 * reveals nothing of the value and that every replica reading the same secret sees alike. A rollout restart is
 * derived from it (src/reload/rollout-annotation.ts), never from a value or a per-process fingerprint.
 */
export interface SourceVersion {
  /** The source's own name for the version. */
  readonly id: string;
  /** Orders versions of one secret, compared element by element: the creation time (epoch ms), then a sequence number, where the source gives them. */
  readonly order: readonly number[];
}

/** Compares the `order` alone: 0 for two versions made at the same instant (AWS dates can tie) as for one version. */
export function compareOrder(a: SourceVersion, b: SourceVersion): number {
  for (let i = 0; i < Math.max(a.order.length, b.order.length); i++) {
    const difference = (a.order[i] ?? 0) - (b.order[i] ?? 0);
    if (difference !== 0) return Math.sign(difference);
  }
  return 0;
}

/** Negative when `a` is older than `b`, 0 when they are the same version; ties on `order` fall back to the id, so every replica decides alike. */
export function compareSourceVersions(a: SourceVersion, b: SourceVersion): number {
  const byOrder = compareOrder(a, b);
  if (byOrder !== 0) return byOrder;
  return a.id === b.id ? 0 : a.id < b.id ? -1 : 1;
}

/** A date as the order's time element; a missing or unparsable one counts as 0 (older than any real date). */
export function timeOrder(date: Date | string | undefined): number {
  if (date === undefined) return 0;
  const ms = (typeof date === 'string' ? new Date(date) : date).getTime();
  return Number.isFinite(ms) ? ms : 0;
}
