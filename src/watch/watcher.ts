import type { SecretBackend } from '../backends/types.js';
import type { RetryPolicy } from '../config/types.js';
import { SidecarError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { SecretView } from './secret-view.js';

export interface WatcherOptions {
  readonly backends: ReadonlyMap<string, SecretBackend>;
  readonly logger: Logger;
  readonly retry: RetryPolicy;
  readonly live: boolean;
  readonly now?: () => number;
  readonly random?: () => number;
  /** A secret got a new value (first value included). */
  readonly onUpdate?: (key: string) => void;
}

/** Which secret a view watches: a backend's name and a path it understands. */
export interface SecretAddress {
  readonly backend: string;
  readonly path: string;
  /** As messages show the reference: parts derived from a secret appear as `[derived from …]`, never as text. */
  readonly shown: string;
  /** The identity as logs, audit records, metrics and the listener show it (`backend:path`, derived parts hidden). */
  readonly label: string;
  readonly pathLabel: string;
  /** Computed from a secret (in part): a backend's messages about it are withheld. */
  readonly derived: boolean;
}

/** Owns one SecretView per secret in use, keyed by the caller's key for the address. */
export class Watcher {
  readonly #views = new Map<string, SecretView>();
  #backends: ReadonlyMap<string, SecretBackend>;
  #onUpdate: ((key: string) => void) | undefined;

  constructor(private readonly options: WatcherOptions) {
    this.#backends = options.backends;
    this.#onUpdate = options.onUpdate;
  }

  /** Who hears of new values (the daemon points it at its current session). */
  set onUpdate(listener: (key: string) => void) {
    this.#onUpdate = listener;
  }

  /**
   * A reload's backends: views of a backend that is gone or was replaced (its config changed) are stopped; views of
   * a backend kept as it was live on, with their values and leases.
   */
  async replaceBackends(backends: ReadonlyMap<string, SecretBackend>): Promise<void> {
    this.#backends = backends;
    const stale = [...this.#views].filter(([, view]) => backends.get(view.backendName) !== view.backend);
    for (const [key] of stale) this.#views.delete(key);
    await Promise.all(stale.map(([, view]) => view.stop()));
  }

  /** Throws a coded error when the address names a backend that is not configured. */
  checkAddress(address: SecretAddress): void {
    this.backendFor(address);
  }

  /** Starts a view for `address` if there is none; returns it. */
  request(key: string, address: SecretAddress): SecretView {
    const existing = this.#views.get(key);
    if (existing) return existing;
    const view = new SecretView({
      key,
      path: address.path,
      label: address.label,
      pathLabel: address.pathLabel,
      derived: address.derived,
      backend: this.backendFor(address),
      logger: this.options.logger,
      retry: this.options.retry,
      live: this.options.live,
      now: this.options.now ?? Date.now,
      random: this.options.random ?? Math.random,
      onUpdate: (k) => this.#onUpdate?.(k),
    });
    this.#views.set(key, view);
    view.start().catch((error: unknown) => {
      const message = address.derived ? "the backend's message is withheld: the reference is derived from a secret" : (error as Error).message;
      this.options.logger.error({ ref: address.label, error: { message } }, 'cannot watch secret');
      view.refresh();
    });
    return view;
  }

  /**
   * Fetches again now (a forced refresh): one reference, by its label (what the listener and metrics show), or
   * every one. Backends forget what they cached first, so the source itself is read. Returns the labels refreshed.
   */
  refresh(label?: string): string[] {
    const keys = label === undefined ? this.keys() : this.keys().filter((k) => this.#views.get(k)?.label === label);
    for (const backend of new Set(keys.map((k) => this.#views.get(k)?.backend))) backend?.invalidate?.();
    for (const k of keys) this.#views.get(k)?.refresh();
    return [...new Set(keys.map((k) => this.#views.get(k)?.label ?? ''))];
  }

  /** The labels of the secrets watched: what may be displayed of them. */
  labels(): Set<string> {
    return new Set([...this.#views.values()].map((view) => view.label));
  }

  view(key: string): SecretView | undefined {
    return this.#views.get(key);
  }

  /** Stops the views no template uses any more. */
  async retain(keys: ReadonlySet<string>): Promise<void> {
    const stale = [...this.#views].filter(([key]) => !keys.has(key));
    for (const [key] of stale) this.#views.delete(key);
    await Promise.all(stale.map(([, view]) => view.stop()));
  }

  keys(): string[] {
    return [...this.#views.keys()];
  }

  async stop(): Promise<void> {
    const views = [...this.#views.values()];
    this.#views.clear();
    await Promise.all(views.map((view) => view.stop()));
  }

  private backendFor(address: SecretAddress): SecretBackend {
    const backend = this.#backends.get(address.backend);
    if (!backend) {
      const known = [...this.#backends.keys()].map((n) => `"${n}"`).join(', ') || 'none';
      throw new SidecarError(
        'SIDECAR_ERR_REF_INVALID',
        `secret reference "${address.shown}" names backend "${address.shown.startsWith('[derived from') ? '…' : address.backend}", which is not configured (configured: ${known})`,
      );
    }
    return backend;
  }
}
