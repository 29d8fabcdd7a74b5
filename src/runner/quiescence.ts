import type { WaitPolicy } from '../config/types.js';
import { setSafeTimeout, type SafeTimer } from '../timer.js';

/**
 * Coalesces bursts of changes (consul-template's `wait`): fire once no change has arrived for `minMs`, and no
 * later than `maxMs` after the first change of the burst. With both zero, changes in the same tick coalesce.
 */
export class Quiescence {
  #minTimer: SafeTimer | undefined;
  #maxTimer: SafeTimer | undefined;

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
    this.#minTimer?.clear();
    this.#minTimer = setSafeTimeout(() => this.#fireNow(), min);
    if (this.#maxTimer === undefined && !immediate && this.wait.maxMs > min) {
      this.#maxTimer = setSafeTimeout(() => this.#fireNow(), this.wait.maxMs);
    }
  }

  cancel(): void {
    this.#minTimer?.clear();
    this.#maxTimer?.clear();
    this.#minTimer = undefined;
    this.#maxTimer = undefined;
  }

  #fireNow(): void {
    this.cancel();
    this.fire();
  }
}
