import { Transform, type Readable } from 'node:stream';

/**
 * The most an AWS answer may hold: a batch of 20 secrets of 64 KiB each, JSON-escaped, stays well inside it.
 * A server (or a proxy) sending more is lying, and is stopped before it fills the memory.
 */
export const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

/** Thrown (and then coded by awsError) when an answer is larger than MAX_RESPONSE_BYTES. */
export class ResponseTooLargeError extends Error {
  constructor(readonly bytes: number) {
    super(`the answer is larger than ${MAX_RESPONSE_BYTES} bytes`);
    this.name = 'ResponseTooLargeError';
  }
}

interface MiddlewareStackLike {
  add(
    middleware: (next: (args: unknown) => Promise<unknown>) => (args: unknown) => Promise<unknown>,
    options: { step: 'deserialize'; name: string; priority: 'low' },
  ): void;
}

interface RawResult {
  response?: { headers?: Record<string, string | undefined>; body?: unknown };
}

/**
 * Caps every raw answer before the SDK's deserializer reads it: a Content-Length above the cap fails at once, a
 * body that grows past it fails as the bytes arrive. Sits innermost in the deserialize step, next to the wire.
 */
export function limitAwsResponses(client: { middlewareStack: unknown }, maxBytes = MAX_RESPONSE_BYTES): void {
  (client.middlewareStack as MiddlewareStackLike).add(
    (next) => async (args) => {
      const result = (await next(args)) as RawResult;
      const response = result.response;
      const body = response?.body as Readable | undefined;
      if (!response || !body || typeof body.pipe !== 'function') return result;
      const declared = Number(response.headers?.['content-length'] ?? Number.NaN);
      if (declared > maxBytes) {
        body.destroy();
        throw new ResponseTooLargeError(declared);
      }
      let seen = 0;
      const counter = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          seen += chunk.length;
          if (seen > maxBytes) {
            body.destroy();
            callback(new ResponseTooLargeError(seen));
          } else callback(null, chunk);
        },
      });
      body.on('error', (error) => counter.destroy(error));
      response.body = body.pipe(counter);
      return result;
    },
    { step: 'deserialize', name: 'secretsSidecarResponseLimit', priority: 'low' },
  );
}
