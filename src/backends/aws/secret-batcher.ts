import { SidecarError, toSidecarError } from '../../errors.js';
import { abortReason } from '../../timer.js';

/** What one secret came back as in a batch. */
export interface BatchedValue {
  readonly versionId: string;
  /** When the version was made: what orders versions for a rollout restart. */
  readonly createdDate?: Date | undefined;
  readonly secretString: string | undefined;
  readonly secretBinary: Uint8Array | undefined;
}

export interface BatchAnswer {
  readonly values: readonly (BatchedValue & { readonly name?: string | undefined; readonly arn?: string | undefined })[];
  readonly errors: ReadonlyMap<string, SidecarError>;
}

/**
 * Collects the secrets asked for within one turn of the event loop (a first render asks for all of them at once)
 * and fetches them in batches (20 for BatchGetSecretValue, 10 for SSM's GetParameters); each caller gets its own
 * value or its own error.
 */
export class SecretBatcher {
  #pending: { id: string; shown: string; resolve: (value: BatchedValue) => void; reject: (error: Error) => void }[] = [];

  /** `fetchBatch` gets the ids, and what messages may show of each (a batch mixes callers; one's id computed from a
   * secret must not appear in another's errors or in the log of a call in flight). */
  constructor(
    private readonly fetchBatch: (ids: string[], shown: string[]) => Promise<BatchAnswer>,
    private readonly batchSize = 20,
  ) {}

  /**
   * The value of `id` from the next batch. A caller whose signal aborts (shutdown, `once --timeout`) stops
   * waiting at once; the batch itself, shared with others, runs on to its own deadline. `shown`: what messages
   * may show of `id` (its `[derived from …]` label when computed from a secret).
   */
  get(id: string, signal: AbortSignal, shown = id): Promise<BatchedValue> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(abortReason(signal));
      const onAbort = () => reject(abortReason(signal));
      signal.addEventListener('abort', onAbort, { once: true });
      const detach = () => signal.removeEventListener('abort', onAbort);
      if (this.#pending.length === 0) setImmediate(() => void this.#flush());
      this.#pending.push({
        id,
        shown,
        resolve: (value) => {
          detach();
          resolve(value);
        },
        reject: (error) => {
          detach();
          reject(error);
        },
      });
    });
  }

  async #flush(): Promise<void> {
    const waiting = this.#pending;
    this.#pending = [];
    const ids = [...new Set(waiting.map((w) => w.id))];
    const size = this.batchSize;
    const chunks = Array.from({ length: Math.ceil(ids.length / size) }, (_, i) => ids.slice(i * size, (i + 1) * size));
    await Promise.all(
      chunks.map(async (chunk) => {
        const callers = waiting.filter((w) => chunk.includes(w.id));
        let answer: BatchAnswer;
        try {
          answer = await this.fetchBatch(
            chunk,
            chunk.map((id) => waiting.find((w) => w.id === id)?.shown ?? id),
          );
        } catch (error) {
          for (const caller of callers) caller.reject(toSidecarError(error, 'SIDECAR_ERR_BACKEND_UNAVAILABLE'));
          return;
        }
        for (const caller of callers) {
          const error = answer.errors.get(caller.id);
          const value = answer.values.find((v) => v.name === caller.id || v.arn === caller.id);
          if (error) caller.reject(error);
          else if (value) caller.resolve(value);
          else caller.reject(new SidecarError('SIDECAR_ERR_BACKEND_MALFORMED', `${caller.id}: missing from the batch answer`));
        }
      }),
    );
  }
}
