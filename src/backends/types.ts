import type { RefreshPolicy } from '../lease/refresh-schedule.js';
import type { Lifetime } from '../lease/lifetime.js';
import type { Sealed } from '../sealed.js';
import type { SourceVersion } from '../source-version.js';

/** Lifetimes are lease math's input, so the lease folder owns the type; backends produce them. */
export type { Lifetime } from '../lease/lifetime.js';

export interface FetchedSecret {
  readonly value: Sealed;
  /** Opaque and safe to log: it changes when the value changes, and reveals nothing of it. */
  readonly version: string;
  readonly lifetime: Lifetime;
  /** The version as the source names it, where it has one (KV v2, AWS, Azure, GCP, SSM): what a rollout restart is derived from. */
  readonly source?: SourceVersion | undefined;
}

export interface FetchContext {
  readonly signal: AbortSignal;
  /** What logs and audit records may show of the path: parts computed from a secret are replaced by their
   * `[derived from …]` label. Undefined: the path itself is safe to show. */
  readonly label?: string;
}

/** Stops a watch. */
export type Unsubscribe = () => Promise<void>;

/**
 * What every provider implements. PATH is whatever follows "NAME:" in a reference; keys inside structured
 * values are resolved by the caller, so a backend returns the whole secret.
 */
export interface SecretBackend {
  readonly name: string;
  /** When to renew or replace what this backend hands out; the watcher's default when absent. */
  readonly refreshPolicy?: RefreshPolicy;
  fetch(path: string, context: FetchContext): Promise<FetchedSecret>;
  /** Extends a lease; returns the secret with its new lifetime. Only for backends that issue leases. */
  renew?(secret: FetchedSecret, context: FetchContext): Promise<FetchedSecret>;
  /**
   * Calls `onChange` whenever the secret at `path` may have changed. Resolves once the watch is live, so that
   * a fetch made after it cannot miss a change.
   */
  watch?(path: string, onChange: () => void): Promise<Unsubscribe>;
  /**
   * True when watch() reports every change at the source (a watched file), so a secret that failed for good
   * waits for a change instead of being retried on a timer. A backend whose watch() reports only some events
   * (Vault: a token that ended took its leases along) leaves it unset.
   */
  readonly watchesSource?: boolean;
  /** Forgets cached data, so that the next fetch reads the source (a forced refresh). */
  invalidate?(): void;
  close(options?: CloseOptions): Promise<void>;
}

export interface CloseOptions {
  /** The sidecar is exiting for good (not reloading, not a `once` run): give leases back if configured to. */
  readonly final?: boolean;
  /** The shutdown's budget: work still under way when it aborts (revocations) is given up and reported. */
  readonly signal?: AbortSignal;
}
