import type { WaitPolicy } from '../config/types.js';
import { isSidecarError, toSidecarError, type SidecarError } from '../errors.js';
import { writeAudit } from '../log/audit.js';
import { errorFields } from '../log/error-fields.js';
import type { Logger } from '../log/logger.js';
import type { CompiledTemplate } from '../template/compile.js';
import type { RenderOptions } from '../template/render-state.js';
import { renderTemplate } from '../template/render.js';
import type { Watcher } from '../watch/watcher.js';
import { Quiescence } from './quiescence.js';
import { renderTurn } from './render-turn.js';
import type { TemplateOutput } from './template-output.js';
import { setSafeTimeout, type SafeTimer } from '../timer.js';

/** What a runner renders, and whom it tells. */
export interface RenderJob {
  readonly name: string;
  readonly compiled: CompiledTemplate;
  readonly errorOnMissingKey: boolean;
  readonly wait: WaitPolicy;
  readonly notify: readonly string[];
}

export interface TemplateRunnerOptions {
  readonly job: RenderJob;
  readonly output: TemplateOutput;
  readonly watcher: Watcher;
  readonly logger: Logger;
  readonly renderOptions: Omit<RenderOptions, 'errorOnMissingKey'>;
  readonly retryBackoffMs: number;
  readonly maxBackoffMs: number;
  /** After every render pass, with what became of the destination. */
  readonly onRendered: (runner: TemplateRunner, outcome: RenderOutcome) => void;
  /** An output error that no retry can fix (not tmpfs, unknown owner). */
  readonly onFatal: (error: SidecarError) => void;
}

/** What a render pass did to the destination: only `written` means the application should reload. */
export type RenderOutcome = 'written' | 'unchanged' | 'incomplete' | 'failed';

/** Keeps one template's output (a file, or a variable of the child) in step with its secrets in `run` mode. */
export class TemplateRunner {
  /** Secret keys the last render read; a change to any of them re-renders. */
  deps: ReadonlySet<string> = new Set();
  /** The last render stopped reading a secret the one before it read: a view may have lost its last reader. */
  depsDropped = false;
  rendered = false;
  /** Render passes made, complete or not: after the first, `deps` is known. */
  passes = 0;
  readonly #quiescence: Quiescence;
  #chain: Promise<void> = Promise.resolve();
  /** Renders queued or running; with a pending quiescence timer, the template counts as busy. */
  #queued = 0;
  /**
   * Something changed since a render last read the secrets. A render due to a change that an earlier render
   * already read (a secret arriving between a timer firing and its render running) has nothing to do.
   */
  #dirty = false;
  /** What the last, incomplete render found missing and asked for. */
  #awaiting = new Set<string>();
  #stopped = false;
  #writeFailures = 0;
  #retryTimer: SafeTimer | undefined;

  constructor(private readonly options: TemplateRunnerOptions) {
    this.#quiescence = new Quiescence(options.job.wait, () => this.#enqueueRender());
  }

  get job(): RenderJob {
    return this.options.job;
  }

  /** Render: at start, or for a reason other than one secret (a retry). */
  schedule(): void {
    this.#dirty = true;
    if (!this.#stopped) this.#quiescence.touch(!this.rendered);
  }

  /**
   * A secret this template reads changed (or arrived). An incomplete render waits for every secret it found
   * missing: rendering again before the last of them arrives would only find that one missing again, and with
   * 5 secrets per template and 200 templates that is 1,000 renders instead of 200. A change to a secret it did
   * read renders at once, since it may change which secrets the template asks for.
   */
  changed(key: string): void {
    if (this.#awaiting.delete(key) && this.#awaiting.size > 0) return;
    this.schedule();
  }

  /** A render is waiting out its quiet period, queued or running: a reload now would come too early. */
  get busy(): boolean {
    return this.#quiescence.pending || this.#queued > 0;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#quiescence.cancel();
    this.#retryTimer?.clear();
    await this.#chain;
  }

  /** Renders are synchronous; writes are not. Chaining keeps one write per destination at a time, in order. */
  #enqueueRender(): void {
    this.#queued++;
    this.#chain = this.#chain.then(async () => {
      let outcome: RenderOutcome = 'failed';
      try {
        outcome = await this.#render();
      } finally {
        this.#queued--;
      }
      if (!this.#stopped) this.options.onRendered(this, outcome);
    });
  }

  async #render(): Promise<RenderOutcome> {
    if (this.#stopped) return 'unchanged';
    // Renders are synchronous: probes and I/O get in between them, so templates due together never add up.
    await renderTurn();
    if (this.#stopped || !this.#dirty) return 'unchanged';
    this.#dirty = false;
    const { job, watcher, logger, output } = this.options;
    const started = Date.now();
    const audit = (outcome: 'ok' | 'error', result?: 'written' | 'unchanged', errorCode?: string) =>
      writeAudit(logger, {
        event: 'template.render',
        template: job.name,
        destination: output.label,
        outcome,
        result,
        durationMs: Date.now() - started,
        errorCode,
      });
    let result;
    try {
      result = renderTemplate(job.compiled, { ...this.options.renderOptions, errorOnMissingKey: job.errorOnMissingKey });
    } catch (error) {
      // deps stay as the last pass left them, so a fix to any of those secrets triggers another try.
      this.#awaiting.clear();
      logger.error({ template: job.name, error: errorFields(error) }, 'render failed; the destination keeps its last good content');
      audit('error', undefined, toSidecarError(error).code);
      return 'failed';
    }
    this.depsDropped = [...this.deps].some((key) => !result.used.has(key));
    this.deps = result.used;
    this.passes++;
    this.#awaiting = new Set(result.status === 'incomplete' ? result.missing.keys() : []);
    if (result.status === 'incomplete') {
      for (const [key, ref] of result.missing) watcher.request(key, ref);
      return 'incomplete';
    }
    try {
      const outcome = await output.write(result.bytes);
      this.#writeFailures = 0;
      this.rendered = true;
      logger[outcome === 'written' ? 'info' : 'debug']({ template: job.name, destination: output.label, outcome }, 'rendered');
      audit('ok', outcome);
      return outcome;
    } catch (error) {
      audit('error', undefined, toSidecarError(error, 'SIDECAR_ERR_OUTPUT_WRITE').code);
      this.#onWriteError(error);
      return 'failed';
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
    this.options.logger.error({ template: this.options.job.name, error: errorFields(coded), retryInMs: delay }, 'write failed; retrying');
    this.#retryTimer?.clear();
    this.#retryTimer = setSafeTimeout(() => {
      this.#dirty = true;
      this.#enqueueRender();
    }, delay);
  }
}
