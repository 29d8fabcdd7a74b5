import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { setSafeTimeout } from '../timer.js';

/** Long enough for the writes and notifications of the first render to settle. */
const SETTLE_MS = 1000;

let collect: (() => void) | undefined;

/**
 * One full garbage collection, shortly after the first render, when `run` turns to waiting. V8 shrinks an idle
 * heap only once its memory reducer is armed, and at start-up that is a race (it arms only if the old generation
 * grew before the first full collection of the process): when it lost, the garbage of the first render (10 MiB
 * and more for 200 templates) stayed resident for as long as the sidecar ran. A full collection arms it; about
 * eight seconds later it compacts the idle heap and returns the pages. `gc` is reached through a context of its
 * own: nothing in the sidecar's context, templates included, sees it.
 */
export function compactHeapSoon(): void {
  setSafeTimeout(() => {
    if (!collect) {
      setFlagsFromString('--expose-gc');
      collect = runInNewContext('gc') as () => void;
    }
    collect();
  }, SETTLE_MS).unref();
}
