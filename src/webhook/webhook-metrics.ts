import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AdmissionOutcome } from './admission-review.js';

/** The webhook's Prometheus metrics: admissions by outcome and their duration, certificate reloads, the start-up scan. */
export class WebhookMetrics {
  readonly registry = new Registry();
  readonly #admissions: Counter;
  readonly #duration: Histogram;
  readonly #tls: Counter;
  readonly #uninjected: Gauge;

  constructor() {
    const registers = [this.registry];
    this.#admissions = new Counter({
      name: 'secrets_sidecar_webhook_admissions_total',
      help: 'Pod admissions by outcome: injected, skipped (not annotated, already injected, not served), refused (bad annotations or config), error (the webhook failed; failurePolicy decides).',
      labelNames: ['outcome'],
      registers,
    });
    for (const outcome of ['injected', 'skipped', 'refused', 'error']) this.#admissions.inc({ outcome }, 0);
    this.#duration = new Histogram({
      name: 'secrets_sidecar_webhook_admission_duration_seconds',
      help: 'How long an admission took to answer, the ConfigMap read included.',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.#tls = new Counter({
      name: 'secrets_sidecar_webhook_certificate_reloads_total',
      help: 'Certificate files that changed: loaded, or rejected (the previous certificate kept serving).',
      labelNames: ['outcome'],
      registers,
    });
    this.#uninjected = new Gauge({
      name: 'secrets_sidecar_webhook_uninjected_pods',
      help: 'With failurePolicy Ignore: pods found at start that ask for injection but lack the sidecar (admitted while the webhook was down).',
      registers,
    });
  }

  admission(outcome: AdmissionOutcome, seconds: number): void {
    this.#admissions.inc({ outcome });
    this.#duration.observe(seconds);
  }

  certificate(outcome: 'loaded' | 'rejected'): void {
    this.#tls.inc({ outcome });
  }

  uninjected(count: number): void {
    this.#uninjected.set(count);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
