import type { BackendConfig } from '../../src/backends/registry.js';
import type { FetchContext, FetchedSecret, SecretBackend, Unsubscribe } from '../../src/backends/types.js';
import { watchedValue } from '../../src/backends/watched-value.js';
import { SidecarError } from '../../src/errors.js';

/**
 * A backend whose values the test sets, as consul-template's runner tests use a fake dependency: values live in
 * memory, a change tells the watchers, and a path can be made to fail. It counts fetches and closes.
 */
export class ScriptedBackend implements SecretBackend {
  readonly watchesSource = true;
  readonly fetches = new Map<string, number>();
  closed = false;
  readonly #values = new Map<string, unknown>();
  readonly #listeners = new Map<string, Set<() => void>>();

  constructor(readonly name: string) {}

  /** Sets values and tells every watcher of them, all in one go: one burst of changes. */
  change(values: Readonly<Record<string, unknown>>): void {
    for (const [path, value] of Object.entries(values)) this.#values.set(path, value);
    for (const path of Object.keys(values)) for (const listener of this.#listeners.get(path) ?? []) listener();
  }

  async fetch(path: string, context: FetchContext): Promise<FetchedSecret> {
    context.signal.throwIfAborted();
    this.fetches.set(path, (this.fetches.get(path) ?? 0) + 1);
    await Promise.resolve();
    const value = this.#values.get(path);
    if (value instanceof Error) throw value;
    if (value === undefined) throw new SidecarError('SIDECAR_ERR_BACKEND_NOT_FOUND', `backend "${this.name}" has no "${path}"`);
    return watchedValue(value);
  }

  watch(path: string, onChange: () => void): Promise<Unsubscribe> {
    const listeners = this.#listeners.get(path) ?? new Set();
    listeners.add(onChange);
    this.#listeners.set(path, listeners);
    return Promise.resolve(async () => {
      listeners.delete(onChange);
      await Promise.resolve();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.resolve();
  }
}

/** A Daemon's `openBackend`: one scripted backend per name, made on first use; `opened` lists every build. */
export function scriptedBackends(initial: Readonly<Record<string, Readonly<Record<string, unknown>>>> = {}): {
  readonly open: (config: BackendConfig) => Promise<SecretBackend>;
  readonly get: (name: string) => ScriptedBackend;
  readonly opened: ScriptedBackend[];
} {
  const opened: ScriptedBackend[] = [];
  return {
    opened,
    open: (config) => {
      const backend = new ScriptedBackend(config.name);
      backend.change(initial[config.name] ?? {});
      opened.push(backend);
      return Promise.resolve(backend);
    },
    get: (name) => {
      const backend = opened.filter((b) => b.name === name && !b.closed).at(-1);
      if (!backend) throw new Error(`no open scripted backend "${name}"`);
      return backend;
    },
  };
}
