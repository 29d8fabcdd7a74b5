import { Writable } from 'node:stream';
import { expect } from 'vitest';
import { registerSecrets } from './canary.js';

/** Asserts that none of the secret values appears in the captured text (logs, stderr, error messages). */
export function expectNoSecrets(captured: string, secrets: readonly string[]): void {
  // The suite-wide canary looks for them too, in everything this test file's sidecars showed.
  registerSecrets(secrets);
  expect(captured.length, 'the capture should not be empty, or the check proves nothing').toBeGreaterThan(0);
  for (const secret of secrets) {
    expect(secret.length).toBeGreaterThan(0);
    if (captured.includes(secret)) {
      throw new Error(`secret value leaked into captured output (value of length ${secret.length})`);
    }
  }
}

/** Collects log lines written by a logger created with { stream }. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.lines.push(chunk.toString());
    callback();
  }
  get text(): string {
    return this.lines.join('');
  }
  records(): Record<string, unknown>[] {
    return this.text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }
}
