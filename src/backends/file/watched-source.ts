import type { Unsubscribe } from '../types.js';
import type { SourceWatch } from './source-watch.js';

/**
 * The listeners of one watched source, and the watch itself: started on the first subscription, closed after
 * the last one leaves. Shared by the backends that read local files.
 */
export class WatchedSource {
  readonly #listeners = new Set<() => void>();
  #watch: Promise<SourceWatch> | undefined;

  constructor(private readonly start: () => Promise<SourceWatch>) {}

  async subscribe(onChange: () => void): Promise<Unsubscribe> {
    this.#listeners.add(onChange);
    this.#watch ??= this.start();
    await this.#watch;
    return async () => {
      this.#listeners.delete(onChange);
      if (this.#listeners.size === 0) await this.close();
    };
  }

  /** Tells every listener that the source may have changed. */
  notify(): void {
    for (const listener of this.#listeners) listener();
  }

  async close(): Promise<void> {
    const watch = this.#watch;
    this.#watch = undefined;
    if (watch) await (await watch).close();
  }
}
