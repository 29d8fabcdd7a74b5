/** JSON records arriving as lines on a stream, with a way to await one. Lines that are not JSON are skipped. */
export class JsonLines<T extends object = Record<string, unknown>> {
  readonly records: T[] = [];
  #partial = '';
  #waiters: { predicate: (r: T) => boolean; resolve: (r: T) => void; from: number }[] = [];

  /** `ended` settles when no more lines can come; waiters still pending then are rejected with `describeEnd()`. */
  constructor(
    private readonly ended: Promise<unknown>,
    private readonly describeEnd: () => string,
  ) {}

  feed(text: string): void {
    this.#partial += text;
    const lines = this.#partial.split('\n');
    this.#partial = lines.pop() ?? '';
    for (const line of lines) {
      let record: T;
      try {
        record = JSON.parse(line) as T;
      } catch {
        continue;
      }
      if (record === null || typeof record !== 'object') continue;
      this.records.push(record);
      const index = this.records.length - 1;
      this.#waiters = this.#waiters.filter((w) => (index >= w.from && w.predicate(record) ? (w.resolve(record), false) : true));
    }
  }

  /** The first record at or after index `from` that matches. */
  waitFor(predicate: (r: T) => boolean, from = 0): Promise<T> {
    const found = this.records.slice(from).find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      this.#waiters.push({ predicate, resolve, from });
      void this.ended.then(() => reject(new Error(this.describeEnd())));
    });
  }

  count(predicate: (r: T) => boolean, from = 0): number {
    return this.records.slice(from).filter(predicate).length;
  }
}
