import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { SidecarEvent } from '../events.js';

const OPERATIONS: Readonly<Record<string, string>> = {
  'secret.fetch': 'fetch',
  'secret.renew': 'renew',
  'secret.revoke': 'revoke',
  'auth.login': 'login',
  'auth.renew': 'token_renew',
  'auth.lookup': 'token_lookup',
  'secret.adopt': 'adopt',
  'auth.adopt': 'token_adopt',
};

/**
 * The Prometheus metrics, fed by the audit records and backoff events the code already makes (published on the channels of src/events.ts).
 * Ages and times-to-expiry are computed when scraped, so nothing ticks while the sidecar is idle.
 */
export class SidecarMetrics {
  readonly registry = new Registry();
  readonly #expiresAt = new Map<string, number>();
  readonly #lastOk = new Map<string, number>();
  readonly #backoff = new Map<string, number>();
  readonly #requests: Counter;
  readonly #duration: Histogram;
  readonly #renders: Counter;
  readonly #reloads: Counter;
  readonly #reloadErrors: Counter;
  readonly #ready: Gauge;

  constructor(private readonly now: () => number = Date.now) {
    const registers = [this.registry];
    this.#requests = new Counter({
      name: 'secrets_sidecar_backend_requests_total',
      help: 'Backend operations (fetch, renew, revoke, login, token_renew, token_lookup) by outcome.',
      labelNames: ['backend', 'operation', 'outcome'],
      registers,
    });
    this.#duration = new Histogram({
      name: 'secrets_sidecar_backend_request_duration_seconds',
      help: 'How long backend operations took, retries of the SDKs included.',
      labelNames: ['backend', 'operation'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.#renders = new Counter({
      name: 'secrets_sidecar_renders_total',
      help: 'Template renders: written (new bytes), unchanged (write skipped) or error.',
      labelNames: ['template', 'result'],
      registers,
    });
    this.#reloads = new Counter({
      name: 'secrets_sidecar_reloads_total',
      help: 'Notifications of reload targets, by outcome.',
      labelNames: ['target', 'outcome'],
      registers,
    });
    this.#reloadErrors = new Counter({
      name: 'secrets_sidecar_reload_errors_total',
      help: 'Failed notifications of reload targets, by error code (SIDECAR_ERR_ROLLOUT_DENIED: the API server refused a rollout patch).',
      labelNames: ['target', 'code'],
      registers,
    });
    this.#ready = new Gauge({
      name: 'secrets_sidecar_ready',
      help: '1 when every template has rendered and no secret has been failing past readiness_grace.',
      registers,
    });
    const perSecret = (name: string, help: string, values: () => Iterable<[string, number]>) =>
      new Gauge({
        name,
        help,
        labelNames: ['secret'],
        registers,
        collect() {
          this.reset();
          for (const [secret, value] of values()) this.set({ secret }, value);
        },
      });
    // Renders are synchronous: this shows whether one (or anything else) ever held the event loop, and so the probes.
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    new Gauge({
      name: 'secrets_sidecar_event_loop_delay_max_seconds',
      help: 'The longest the event loop was held since start (a render, a parse): probes wait that long.',
      registers,
      collect() {
        this.set(delay.max / 1e9);
      },
    });
    perSecret('secrets_sidecar_secret_expires_in_seconds', 'Seconds until a lease, certificate or token-bound secret expires.', () =>
      [...this.#expiresAt].map(([ref, at]) => [ref, (at - this.now()) / 1000]),
    );
    perSecret('secrets_sidecar_secret_refresh_age_seconds', 'Seconds since a secret was last fetched or renewed successfully.', () =>
      [...this.#lastOk].map(([ref, at]) => [ref, (this.now() - at) / 1000]),
    );
    perSecret('secrets_sidecar_secret_backoff_seconds', 'The delay before the next retry of a failing secret; 0 when it is healthy.', () => this.#backoff);
  }

  observe(event: SidecarEvent): void {
    if (event.kind === 'backoff') {
      this.#backoff.set(event.ref, event.delayMs / 1000);
      return;
    }
    const record = event.record;
    if (record.event === 'template.render') {
      this.#renders.inc({ template: record.template, result: record.outcome === 'ok' ? (record.result ?? 'written') : 'error' });
    } else if (record.event === 'reload.notify') {
      this.#reloads.inc({ target: record.target, outcome: record.outcome });
      if (record.outcome === 'error') this.#reloadErrors.inc({ target: record.target, code: record.errorCode ?? 'SIDECAR_ERR_INTERNAL' });
    } else {
      const operation = OPERATIONS[record.event] ?? record.event;
      this.#requests.inc({ backend: record.backend, operation, outcome: record.outcome });
      this.#duration.observe({ backend: record.backend, operation }, record.durationMs / 1000);
      if (record.outcome === 'ok' && (record.event === 'secret.fetch' || record.event === 'secret.renew')) {
        const ref = `${record.backend}:${record.path}`;
        this.#lastOk.set(ref, this.now());
        if (!this.#backoff.has(ref)) this.#backoff.set(ref, 0);
        if (record.expiresAt === undefined) this.#expiresAt.delete(ref);
        else this.#expiresAt.set(ref, record.expiresAt);
      }
    }
  }

  /** Forgets the per-secret gauges of references no template uses any more (after a reload). */
  retain(inUse: ReadonlySet<string>): void {
    for (const map of [this.#expiresAt, this.#lastOk, this.#backoff]) for (const ref of map.keys()) if (!inUse.has(ref)) map.delete(ref);
  }

  setReady(ready: boolean): void {
    this.#ready.set(ready ? 1 : 0);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
