import type { RefreshPolicy } from '../lease/refresh-schedule.js';
import type { Sealed } from '../sealed.js';

/** How long a fetched value stays good, which decides when the watcher looks again. */
export type Lifetime =
  /** Good until the source changes; the backend pushes a notification through watch(). */
  | { readonly kind: 'until-changed' }
  /** Static data with no push channel (a KV secret): read again every interval to see whether it changed. */
  | {
      readonly kind: 'poll';
      readonly intervalMs: number;
      /** An extra check at this instant (epoch ms) when it comes before the interval: just after a scheduled rotation. */
      readonly checkAt?: number | undefined;
    }
  /** Good until a known instant (a certificate's notAfter, a version's expiry), epoch ms. */
  | { readonly kind: 'expiry'; readonly expiresAt: number }
  /** A lease that can be renewed until `maxExpiresAt` (when known), and re-fetched after. */
  | {
      readonly kind: 'lease';
      readonly leaseId: string;
      readonly ttlMs: number;
      readonly renewable: boolean;
      readonly maxExpiresAt?: number | undefined;
      /** When the lease was first issued (epoch ms), renewals kept: its replacement never comes before half its whole life. */
      readonly issuedAt?: number | undefined;
    };

export interface FetchedSecret {
  readonly value: Sealed;
  /** Opaque and safe to log: it changes when the value changes, and reveals nothing of it. */
  readonly version: string;
  readonly lifetime: Lifetime;
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
  readonly type: string;
  /** When to renew or replace what this backend hands out; the watcher's default when absent. */
  readonly refreshPolicy?: RefreshPolicy;
  fetch(path: string, context: FetchContext): Promise<FetchedSecret>;
  /** Extends a lease; returns the secret with its new lifetime. Only for backends that issue leases. */
  renew?(secret: FetchedSecret, context: FetchContext): Promise<FetchedSecret>;
  /** Gives a lease back on shutdown. */
  revoke?(secret: FetchedSecret): Promise<void>;
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
