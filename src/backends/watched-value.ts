import { Sealed } from '../sealed.js';
import { fingerprint } from './fingerprint.js';
import type { FetchedSecret } from './types.js';

/** A value from a watched local source: good until the source changes, versioned by its content. */
export function watchedValue(value: unknown, content: string | Buffer = JSON.stringify(value) ?? 'undefined'): FetchedSecret {
  return { value: new Sealed(value), version: fingerprint(content), lifetime: { kind: 'until-changed' } };
}
