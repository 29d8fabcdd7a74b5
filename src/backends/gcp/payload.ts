import { SidecarError } from '../../errors.js';
import { crc32c } from './crc32c.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A version's payload as a template sees it: a JSON object exposes its keys, other UTF-8 text is a string, and
 * bytes that are not UTF-8 stay bytes. The checksum Secret Manager sends is verified first, so a payload damaged
 * on the way is retried rather than rendered.
 */
export function decodePayload(data: Uint8Array, checksum: string | number | null | undefined, what: string): unknown {
  if (checksum !== undefined && checksum !== null && Number(checksum) !== crc32c(data)) {
    throw new SidecarError('SIDECAR_ERR_BACKEND_MALFORMED', `${what}: the payload does not match its CRC32C checksum`);
  }
  let text: string;
  try {
    text = utf8.decode(data);
  } catch {
    return Buffer.from(data);
  }
  if (!text.trimStart().startsWith('{')) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // Text that merely starts with a brace is still text.
    return text;
  }
}
