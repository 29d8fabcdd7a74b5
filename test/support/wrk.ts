import { spawn } from 'node:child_process';

/** What wrk reported: requests made, and every kind of failure it counts. */
export interface WrkResult {
  readonly requests: number;
  readonly socketErrors: { readonly connect: number; readonly read: number; readonly write: number; readonly timeout: number };
  readonly non2xx: number;
  readonly output: string;
}

/**
 * Runs wrk (Debian's package) against a loopback URL until `stop` resolves or `maxSeconds` pass, whichever is
 * first; wrk reports on SIGINT as at the end of its duration.
 */
export async function runWrk(
  url: string,
  options: { threads: number; connections: number; maxSeconds: number; stop: Promise<unknown>; headers?: readonly string[] },
): Promise<WrkResult> {
  if (!/^https?:\/\/(127\.\d+\.\d+\.\d+|\[::1\])[:/]/.test(url)) throw new Error(`load only on loopback, not ${url}`);
  const headers = (options.headers ?? []).flatMap((h) => ['-H', h]);
  const child = spawn('wrk', [`-t${options.threads}`, `-c${options.connections}`, `-d${options.maxSeconds}s`, '--timeout', '5s', ...headers, url], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
  void options.stop.then(() => child.kill('SIGINT'));
  const code = await exited;
  const requests = /(\d+) requests in/.exec(output);
  if (!requests) throw new Error(`wrk exited ${code} without a report:\n${output}`);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(output);
  return {
    requests: Number(requests[1]),
    socketErrors: { connect: Number(errors?.[1] ?? 0), read: Number(errors?.[2] ?? 0), write: Number(errors?.[3] ?? 0), timeout: Number(errors?.[4] ?? 0) },
    non2xx: Number(non2xx?.[1] ?? 0),
    output,
  };
}
