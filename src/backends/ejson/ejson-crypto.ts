import nacl from 'tweetnacl';

/** `EJ[1:<encrypter public key>:<nonce>:<box>]`, all base64: Shopify ejson's wire format for one value. */
const BOXED = /^EJ\[(\d):([A-Za-z0-9+=/]{44}):([A-Za-z0-9+=/]{32}):(.+)\]$/s;

export interface Keypair {
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
}

export function isBoxed(value: string): boolean {
  return BOXED.test(value);
}

/** A new Curve25519 keypair, as `ejson keygen` makes (hex, as ejson writes keys). */
export function generateKeypair(): { publicHex: string; privateHex: string } {
  const pair = nacl.box.keyPair();
  return { publicHex: Buffer.from(pair.publicKey).toString('hex'), privateHex: Buffer.from(pair.secretKey).toString('hex') };
}

/** The keypair of a 64-digit hex private key; undefined when it is not one. */
export function keypairFromPrivateHex(hex: string): Keypair | undefined {
  if (!/^[0-9a-f]{64}$/i.test(hex)) return undefined;
  return nacl.box.keyPair.fromSecretKey(Buffer.from(hex, 'hex'));
}

/**
 * Encrypts for the holder of `recipientPublic`. One ephemeral keypair serves a whole file, as in ejson; each
 * value gets its own random nonce. An already boxed value is returned as it is.
 */
export function encrypter(recipientPublic: Uint8Array): (plain: string) => string {
  const ephemeral = nacl.box.keyPair();
  const shared = nacl.box.before(recipientPublic, ephemeral.secretKey);
  const encrypterPublic = Buffer.from(ephemeral.publicKey).toString('base64');
  return (plain) => {
    if (isBoxed(plain)) return plain;
    const nonce = nacl.randomBytes(nacl.box.nonceLength);
    const box = nacl.box.after(Buffer.from(plain, 'utf8'), nonce, shared);
    return `EJ[1:${encrypterPublic}:${Buffer.from(nonce).toString('base64')}:${Buffer.from(box).toString('base64')}]`;
  };
}

export type DecryptResult = { readonly ok: true; readonly plain: string } | { readonly ok: false; readonly reason: 'format' | 'version' | 'authentication' };

/** Opens one boxed value with the file's private key; a tampered box or another key fails authentication. */
export function decryptValue(boxed: string, secretKey: Uint8Array): DecryptResult {
  const match = BOXED.exec(boxed);
  if (!match) return { ok: false, reason: 'format' };
  if (match[1] !== '1') return { ok: false, reason: 'version' };
  const encrypterPublic = Buffer.from(match[2] ?? '', 'base64');
  const nonce = Buffer.from(match[3] ?? '', 'base64');
  const box = Buffer.from(match[4] ?? '', 'base64');
  if (encrypterPublic.length !== 32 || nonce.length !== 24) return { ok: false, reason: 'format' };
  const plain = nacl.box.open(box, nonce, encrypterPublic, secretKey);
  if (!plain) return { ok: false, reason: 'authentication' };
  return { ok: true, plain: Buffer.from(plain).toString('utf8') };
}
