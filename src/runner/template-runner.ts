import type { TemplateConfig } from '../config/types.js';
import { isSidecarError, toSidecarError, type SidecarError } from '../errors.js';
import { errorFields } from '../log/error-fields.js';
import type { Logger } from '../log/logger.js';
import { writeAtomically } from '../output/atomic-write.js';
import type { RenderOptions } from '../template/render-state.js';
import { renderTemplate } from '../template/render.js';
import type { Watcher } from '../watch/watcher.js';
import type { LoadedTemplate } from './load-templates.js';
import type { Destination } from './preflight.js';
import { Quiescence } from './quiescence.js';

export interface TemplateRunnerOptions {
  readonly template: LoadedTemplate;
  readonly destination: Destination;
  readonly watcher: Watcher;
  readonly logger: Logger;
  readonly renderOptions: Omit<RenderOptions, 'errorOnMissingKey'>;
  readonly retryBackoffMs: number;
  readonly maxBackoffMs: number;
  /** After every complete render, with the secrets it used. */
  readonly onRendered: (runner: TemplateRunner) => void;
  /** An output error that no retry can fix (not tmpfs, unknown owner). */
  readonly onFatal: (error: SidecarError) => void;
}

/** Keeps one template's destination in step with its secrets in `run` mode. */
export class TemplateRunner {
  /** Secret keys the last render read; a change to any of them re-renders. */
  deps: ReadonlySet<string> = new Set();
  rendered = false;
  readonly #quiescence: Quiescence;
  #busy: Promise<void> = Promise.resolve();
  #stopped = false;
  #writeFailures = 0;
  #retryTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: TemplateRunnerOptions) {
    this.#quiescence = new Quiescence(options.template.config.wait, () => this.#enqueueRender());
  }

  get config(): TemplateConfig {
    return this.options.template.config;
  }

  /** A secret this template uses changed (or arrived). */
  schedule(): void {
    if (!this.#stopped) this.#quiescence.touch(!this.rendered);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#quiescence.cancel();
    clearTimeout(this.#retryTimer);
    await this.#busy;
  }

  /** Renders are synchronous; writes are not. Chaining keeps one write per destination at a time, in order. */
  #enqueueRender(): void {
    this.#busy = this.#busy.then(() => this.#render());
  }

  async #render(): Promise<void> {
    if (this.#stopped) return;
    const { template, watcher, logger } = this.options;
    let result;
    try {
      result = renderTemplate(template.compiled, { ...this.options.renderOptions, errorOnMissingKey: this.config.errorOnMissingKey });
    } catch (error) {
      // deps stay as the last pass left them, so a fix to any of those secrets triggers another try.
      logger.error({ template: this.config.name, error: errorFields(error) }, 'render failed; the destination keeps its last good content');
      return;
    }
    this.deps = result.used;
    if (result.status === 'incomplete') {
      for (const [key, ref] of result.missing) watcher.request(key, ref);
      this.options.onRendered(this);
      return;
    }
    try {
      const outcome = await writeAtomically({
        destination: this.config.destination,
        contents: result.text,
        perms: this.config.perms,
        uid: this.options.destination.uid,
        gid: this.options.destination.gid,
        createDirs: this.config.createDestDirs,
        allowNonTmpfs: this.config.allowNonTmpfs,
      });
      this.#writeFailures = 0;
      this.rendered = true;
      logger[outcome.outcome === 'written' ? 'info' : 'debug']({ template: this.config.name, destination: this.config.destination, outcome: outcome.outcome }, 'rendered');
      this.options.onRendered(this);
    } catch (error) {
      this.#onWriteError(error);
    }
  }

  #onWriteError(error: unknown): void {
    const coded = toSidecarError(error, 'SIDECAR_ERR_OUTPUT_WRITE');
    if (isSidecarError(error) && (coded.code === 'SIDECAR_ERR_OUTPUT_NOT_TMPFS' || coded.code === 'SIDECAR_ERR_OUTPUT_OWNER')) {
      this.options.onFatal(coded);
      return;
    }
    this.#writeFailures++;
    const delay = Math.min(this.options.maxBackoffMs, this.options.retryBackoffMs * 2 ** (this.#writeFailures - 1));
    this.options.logger.error({ template: this.config.name, error: errorFields(coded), retryInMs: delay }, 'write failed; retrying');
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => this.#enqueueRender(), delay);
  }
}
