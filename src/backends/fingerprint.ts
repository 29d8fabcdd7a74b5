import { createHmac, randomBytes } from 'node:crypto';

/**
 * A version string for backends whose source has none (files): an HMAC under a key made fresh for each process,
 * so equal values compare equal within a run but a logged fingerprint cannot be checked against guesses.
 * Made on first use, not at module load: a start-up snapshot (scripts/build-snapshot.mjs) would otherwise bake
 * one key into every process started from it.
 */
let processKey: Buffer | undefined;

export function fingerprint(data: string | Buffer): string {
  processKey ??= randomBytes(32);
  return 'h:' + createHmac('sha256', processKey).update(data).digest('hex').slice(0, 16);
}
