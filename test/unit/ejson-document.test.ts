import { describe, expect, it } from 'vitest';
import { decryptValue, encrypter, keypairFromPrivateHex } from '../../src/backends/ejson/ejson-crypto.js';
import { parseEjson, replaceValues } from '../../src/backends/ejson/ejson-document.js';

const KEY = `"_public_key": "${'ab'.repeat(32)}"`;
const secretValues = (body: string) => parseEjson(`{${KEY}, ${body}}`, 'f.ejson').values.map((v) => `${v.path}=${v.value}`);

describe('ejson documents', () => {
  it("selects the values Shopify's walker encrypts: string values whose latest key has no leading underscore", () => {
    // The cases Shopify documents for its walker.
    expect(secretValues('"_a": "b"')).toEqual([]);
    expect(secretValues('"a": "b"')).toEqual(['a=b']);
    expect(secretValues('"k": {"a": ["b"]}')).toEqual(['k.a[0]=b']);
    expect(secretValues('"_k": {"a": ["b"]}')).toEqual(['_k.a[0]=b']);
    expect(secretValues('"k": {"_a": ["b"]}')).toEqual([]);
    // Numbers, booleans and null are never encrypted.
    expect(secretValues('"n": 1, "t": true, "z": null')).toEqual([]);
  });

  it('accepts pasted multi-line values, as ejson does, and rewrites only the values it replaces', () => {
    const text = `{\n  ${KEY},\n  "pem": "line one\nline two",\n  "_note": "kept"\n}\n`;
    const document = parseEjson(text, 'f.ejson');
    expect(document.values.map((v) => v.value)).toEqual(['line one\nline two']);
    expect(replaceValues(document.text, [{ at: document.values[0] as never, with: 'X' }])).toBe(`{\n  ${KEY},\n  "pem": "X",\n  "_note": "kept"\n}\n`);
  });

  it('rejects a file without a valid _public_key, or that is not JSON, naming the position', () => {
    expect(() => parseEjson('{"a": "b"}', 'f.ejson')).toThrow(/f\.ejson has no "_public_key" of 64 hex digits/);
    expect(() => parseEjson(`{${KEY}, "a": }`, 'f.ejson')).toThrow(/f\.ejson is not valid JSON \(line 1, column \d+\)/);
    expect(() => parseEjson('[1]', 'f.ejson')).toThrow(/is not a JSON object/);
  });

  it('round-trips a value, and refuses a box opened with another key or changed after encryption', () => {
    const pair = keypairFromPrivateHex('2ed65dd6a16eab833cc4d2a860baa60042da34a58ac43855e8554ca87a5e557d');
    const other = keypairFromPrivateHex('11'.repeat(32));
    if (!pair || !other) throw new Error('bad test key');
    const boxed = encrypter(pair.publicKey)('round trip ✓');
    expect(decryptValue(boxed, pair.secretKey)).toEqual({ ok: true, plain: 'round trip ✓' });
    expect(decryptValue(boxed, other.secretKey)).toEqual({ ok: false, reason: 'authentication' });
    const flipped = boxed.replace(/.(?=\]$)/, (c) => (c === 'A' ? 'B' : 'A'));
    expect(decryptValue(flipped, pair.secretKey).ok).toBe(false);
    expect(decryptValue('plain', pair.secretKey)).toEqual({ ok: false, reason: 'format' });
    expect(decryptValue(boxed.replace('EJ[1:', 'EJ[2:'), pair.secretKey)).toEqual({ ok: false, reason: 'version' });
  });
});
