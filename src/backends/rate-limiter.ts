/**
 * A token bucket: at most `perSecond` calls per second on average, bursts up to `perSecond`. Keeps a fleet of
 * sidecars from spending a shared API quota (AWS throttles per account and region, Key Vault per vault).
 */
export class RateLimiter {
  #tokens: number;
  #last: number;

  constructor(
    private readonly perSecond: number,
    private readonly now: () => number = Date.now,
  ) {
    this.#tokens = perSecond;
    this.#last = now();
  }

  /** Resolves when a call may go out. */
  async take(): Promise<void> {
    for (;;) {
      const now = this.now();
      this.#tokens = Math.min(this.perSecond, this.#tokens + ((now - this.#last) / 1000) * this.perSecond);
      this.#last = now;
      if (this.#tokens >= 1) {
        this.#tokens -= 1;
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.ceil(((1 - this.#tokens) * 1000) / this.perSecond)));
    }
  }
}
