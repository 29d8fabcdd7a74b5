/**
 * Renders are synchronous, and each waits for a turn of the event loop of its own: I/O (the answers to fetches
 * the renders before it started, health probes) and timers (`once --timeout`) are handled between any two. With
 * a plain setImmediate each, every render queued in the same tick ran back to back in one check phase: the 200
 * first renders of a start, and every template compiled on its first render, before one request went out.
 */
const waiting: Array<() => void> = [];

export function renderTurn(): Promise<void> {
  return new Promise((resolve) => {
    waiting.push(resolve);
    if (waiting.length === 1) setImmediate(next);
  });
}

function next(): void {
  waiting.shift()?.();
  // An immediate queued from the check phase runs in the next turn, after that turn's I/O.
  if (waiting.length > 0) setImmediate(next);
}
