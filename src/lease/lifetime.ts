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
