import type { WaitPolicy } from '../config/types.js';

/**
 * Coalesces bursts of changes (consul-template's `wait`): fire once no change has arrived for `minMs`, and no
 * later than `maxMs` after the first change of the burst. With both zero, changes in the same tick coalesce.
 */
export class Quiescence {
  #minTimer: NodeJS.Timeout | undefined;
  #maxTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly wait: WaitPolicy,
    private readonly fire: () => void,
  ) {}

  get pending(): boolean {
    return this.#minTimer !== undefined || this.#maxTimer !== undefined;
  }

  /** A change arrived. `immediate` skips the wait (for a template that has never rendered). */
  touch(immediate = false): void {
    const min = immediate ? 0 : this.wait.minMs;
    clearTimeout(this.#minTimer);
    this.#minTimer = setTimeout(() => this.#fireNow(), min);
    if (this.#maxTimer === undefined && !immediate && this.wait.maxMs > min) {
      this.#maxTimer = setTimeout(() => this.#fireNow(), this.wait.maxMs);
    }
  }

  cancel(): void {
    clearTimeout(this.#minTimer);
    clearTimeout(this.#maxTimer);
    this.#minTimer = undefined;
    this.#maxTimer = undefined;
  }

  #fireNow(): void {
    this.cancel();
    this.fire();
  }
}
