import type { SidecarEvent } from '../events.js';

export interface ReadinessState {
  readonly ready: boolean;
  readonly reasons: readonly string[];
}

/**
 * Ready once every template has rendered, and for as long as no secret has been failing for longer than the
 * grace: a blip is ridden out (the files in place are still good), a lasting outage is reported.
 */
export class Readiness {
  #rendered = false;
  readonly #failingSince = new Map<string, number>();
  /** A backend's own token that cannot be looked up (so not kept alive): no template reference names it. */
  readonly #authFailingSince = new Map<string, number>();

  constructor(
    private readonly graceMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  markRendered(): void {
    this.#rendered = true;
  }

  observe(event: SidecarEvent): void {
    if (event.kind !== 'audit') return;
    const record = event.record;
    if (record.event === 'auth.lookup') {
      const ref = `${record.backend}:${record.path}`;
      if (record.outcome === 'ok') this.#authFailingSince.delete(ref);
      else if (!this.#authFailingSince.has(ref)) this.#authFailingSince.set(ref, this.now());
      return;
    }
    if (record.event !== 'secret.fetch' && record.event !== 'secret.renew') return;
    const ref = `${record.backend}:${record.path}`;
    if (record.outcome === 'ok') this.#failingSince.delete(ref);
    else if (!this.#failingSince.has(ref)) this.#failingSince.set(ref, this.now());
  }

  /** `inUse`: the references templates use now; one a reload dropped no longer counts, failing or not. */
  state(inUse?: ReadonlySet<string>): ReadinessState {
    const reasons: string[] = [];
    if (!this.#rendered) reasons.push('not every template has rendered yet');
    const now = this.now();
    for (const [ref, since] of this.#failingSince) {
      if (inUse && !inUse.has(ref)) {
        this.#failingSince.delete(ref);
        continue;
      }
      if (now - since > this.graceMs) reasons.push(`${ref} has been failing for ${Math.round((now - since) / 1000)}s`);
    }
    for (const [ref, since] of this.#authFailingSince) {
      // A backend a reload dropped no longer counts.
      const backend = ref.slice(0, ref.indexOf(':') + 1);
      if (inUse && ![...inUse].some((r) => r.startsWith(backend))) {
        this.#authFailingSince.delete(ref);
        continue;
      }
      if (now - since > this.graceMs)
        reasons.push(`${ref} has been failing for ${Math.round((now - since) / 1000)}s: the token is not renewed until it answers`);
    }
    return { ready: reasons.length === 0, reasons };
  }
}
