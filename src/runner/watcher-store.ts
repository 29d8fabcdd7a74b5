import type { SecretLookup, SecretStore } from '../template/render-state.js';
import type { SecretRef } from '../template/secret-ref.js';
import type { Watcher } from '../watch/watcher.js';

/** What templates read: the values the watcher's views hold (the watcher knows nothing of templates). */
export function storeOf(watcher: Watcher): SecretStore {
  return {
    lookup(key: string, ref: SecretRef): SecretLookup {
      watcher.checkAddress(ref);
      const current = watcher.view(key)?.current;
      return current ? { status: 'ready', value: current.value.reveal() } : { status: 'missing' };
    },
  };
}
