import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { RestError, createDefaultHttpClient, createPipelineRequest } from '@azure/core-rest-pipeline';
import { afterEach, describe, expect, it } from 'vitest';
import { azureError } from '../../src/backends/azure/azure-errors.js';

/** The errors come from the SDK's own HTTP client against a loopback server, not from hand-made objects. */
let server: Server | undefined;
afterEach(async () => {
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = undefined;
});

async function sdkErrorFrom(onConnection: (socket: Socket) => void): Promise<unknown> {
  server = createServer(onConnection);
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/secrets/db-password?api-version=7.5`;
  return createDefaultHttpClient()
    .sendRequest(createPipelineRequest({ url, allowInsecureConnection: true }))
    .then(
      () => undefined,
      (error: unknown) => error,
    );
}

describe('Azure errors in words', () => {
  it('names a connection reset by the server, not "Error"', async () => {
    const error = await sdkErrorFrom((socket) => socket.once('data', () => socket.resetAndDestroy()));
    const coded = azureError(error, 'backend "kv": db-password');
    expect(coded.code).toBe('SIDECAR_ERR_BACKEND_UNAVAILABLE');
    expect(coded.message).toMatch(
      /^backend "kv": db-password: connection (reset by the server \(ECONNRESET\)|closed by the server before it answered \(socket hang up\))$/,
    );
  });

  it('names a refused connection', async () => {
    // Port 9 (discard) has no listener on a test machine: the connection is refused at once.
    const refused = await createDefaultHttpClient()
      .sendRequest(createPipelineRequest({ url: 'http://127.0.0.1:9/secrets/x', allowInsecureConnection: true }))
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(azureError(refused, 'backend "kv": x').message).toBe('backend "kv": x: connection refused: nothing listens at that address (ECONNREFUSED)');
  });

  it('quotes a server-chosen code and message within bounds, first line only', () => {
    const error = new RestError(`m${'x'.repeat(50_000)}\nsecond line`, { code: `C${'c'.repeat(50_000)}`, statusCode: 500 });
    const coded = azureError(error, 'backend "kv": x');
    expect(coded.message.length).toBeLessThan(600);
    expect(coded.message).not.toContain('second line');
  });
});
