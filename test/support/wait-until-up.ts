import type { ChildProcess } from 'node:child_process';

/**
 * Polls `url` until it answers 2xx: a server started by a test is ready. Bounded by `timeoutMs`; fails at once if
 * the server's process exits. `details` adds what the server printed to the error.
 */
export async function waitUntilUp(url: string, server: ChildProcess, name: string, timeoutMs: number, details: () => string = () => ''): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; ;) {
    if (server.exitCode !== null) throw new Error(`${name} exited during start ${details()}`.trim());
    if (
      await fetch(url).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    if (Date.now() > deadline) throw new Error(`${name} did not become ready within ${timeoutMs} ms ${details()}`.trim());
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
