import { describe, expect, it } from 'vitest';
import { crc32c } from '../../src/backends/gcp/crc32c.js';
import { decodePayload } from '../../src/backends/gcp/payload.js';
import { parseSecretRequest } from '../../src/backends/gcp/secret-request.js';
import { canary } from '../support/canary.js';

const what = 'backend "g": db';
const decode = (data: Uint8Array) => decodePayload(data, String(crc32c(data)), what);

describe('GCP payloads', () => {
  it('computes CRC-32C (Castagnoli), not zlib CRC-32: the standard check value of "123456789"', () => {
    expect(crc32c(Buffer.from('123456789')).toString(16)).toBe('e3069283');
  });

  it('refuses a payload whose checksum does not match, as a retryable MALFORMED error without the value', () => {
    const value = canary('gcp-crc');
    const data = Buffer.from(value);
    let error: unknown;
    try {
      decodePayload(data, String((crc32c(data) + 1) >>> 0), what);
    } catch (caught) {
      error = caught;
    }
    expect(error).toMatchObject({ code: 'SIDECAR_ERR_BACKEND_MALFORMED', retryable: true });
    expect(String((error as Error).message)).not.toContain(value);
  });

  it('gives a JSON object its keys, text as a string (a leading brace that is not JSON too), and bytes that are not UTF-8 as a Buffer', () => {
    expect(decode(Buffer.from('{"user":"app","n":1}'))).toEqual({ user: 'app', n: 1 });
    expect(decode(Buffer.from('{not json'))).toBe('{not json');
    expect(decode(Buffer.from('plain ✓ text'))).toBe('plain ✓ text');
    const bytes = Buffer.from([0xff, 0xfe, 0x00, 0x41]);
    const decoded = decode(bytes);
    expect(Buffer.isBuffer(decoded) && decoded.equals(bytes)).toBe(true);
  });
});

describe('GCP references', () => {
  it('takes a secret id and an optional version number or "latest"', () => {
    expect(parseSecretRequest('db-password')).toEqual({ secretId: 'db-password', version: undefined });
    expect(parseSecretRequest('db_password?version=12')).toEqual({ secretId: 'db_password', version: '12' });
    expect(parseSecretRequest('db?version=latest')).toEqual({ secretId: 'db', version: undefined });
  });

  it('refuses what could name another resource or is not a version', () => {
    for (const path of ['../x', 'a/b', 'projects/p/secrets/x', '', 'x'.repeat(256), 'db?version=0', 'db?version=1.5', 'db?version=', 'db?stage=AWSCURRENT']) {
      expect(() => parseSecretRequest(path), path).toThrow(expect.objectContaining({ code: 'SIDECAR_ERR_REF_INVALID' }) as Error);
    }
  });
});
