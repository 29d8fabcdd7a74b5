/** What a socket-level failure means, by Node's error code; undefined for anything else. */
const NETWORK_FAILURES: Readonly<Record<string, string>> = {
  ECONNRESET: 'connection reset by the server',
  ECONNREFUSED: 'connection refused: nothing listens at that address',
  ETIMEDOUT: 'connection timed out',
  EPIPE: 'connection closed by the server while sending the request',
  ENOTFOUND: 'host name not found (DNS)',
  EAI_AGAIN: 'host name lookup failed for now (DNS)',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNABORTED: 'connection aborted',
  UND_ERR_SOCKET: 'connection closed by the server',
};

/**
 * "connection reset by the server (ECONNRESET)" for an error (or its cause) that is a socket failure. SDKs rename
 * these (the AWS SDK calls ECONNRESET a "TimeoutError"), so the message and code are what is trusted.
 */
export function describeNetworkError(error: unknown): string | undefined {
  for (let e = error, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    // Node's word for a body cut short of its Content-Length (an SDK may append to the message).
    if (typeof message === 'string' && /^aborted(\n|$)/.test(message))
      return `connection closed by the server in the middle of the answer (${typeof code === 'string' ? code : 'aborted'})`;
    if (typeof message === 'string' && /^socket hang up(\n|$)/i.test(message)) return 'connection closed by the server before it answered (socket hang up)';
    if (typeof code === 'string' && NETWORK_FAILURES[code]) return `${NETWORK_FAILURES[code]} (${code})`;
    // llhttp's parse errors (HPE_INVALID_CONSTANT, HPE_INVALID_CHUNK_SIZE, …) say nothing to a user on their own.
    if (typeof code === 'string' && code.startsWith('HPE_'))
      return `the answer is not valid HTTP: a proxy, or a server that is not what the config says? (${code})`;
  }
  return undefined;
}
