import { stat } from 'node:fs/promises';
import { boundedCall, readTextBounded } from '../../bounded-read.js';
import { join } from 'node:path';
import { SidecarError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import { keypairFromPrivateHex, type Keypair } from './ejson-crypto.js';

/** Where ejson looks for private keys when neither the config nor EJSON_KEYDIR says. */
export const DEFAULT_KEY_DIR = '/opt/ejson/keys';

export interface KeySource {
  /** A file holding the private key; otherwise `keyDir`/<public key>. */
  readonly keyFile: string | undefined;
  readonly keyDir: string;
}

/**
 * The private key for `publicKey`: from the key file, or the file named by the public key in the key directory
 * (ejson's layout). Errors name the public key and the file, never the private key.
 */
export async function loadPrivateKey(publicKey: string, source: KeySource, logger: Logger, warned: Set<string>): Promise<Keypair> {
  const file = source.keyFile ?? join(source.keyDir, publicKey);
  let text: string;
  try {
    const info = await boundedCall(file, 'stat', () => stat(file));
    if ((info.mode & 0o077) !== 0 && !warned.has(file)) {
      warned.add(file);
      logger.warn({ file, mode: (info.mode & 0o777).toString(8) }, 'the ejson private key file is readable by group or others; chmod 0400 it');
    }
    text = (await readTextBounded(file, { maxBytes: 4096 })).trim();
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const missing = code === 'ENOENT' || code === 'ENOTDIR';
    // A key mounted late (a Kubernetes secret volume) is worth another try; a key we may not read is not.
    throw new SidecarError(
      'SIDECAR_ERR_BACKEND_KEY',
      missing ? `no private key for ejson public key ${publicKey}: ${file} does not exist` : `cannot read the ejson private key ${file} (${code ?? 'error'})`,
      {
        retryable: missing || code === 'ETIMEDOUT',
        hint: source.keyFile ? 'key_file names the private key' : 'put the private key (hex) in a file named by the public key in key_dir, or set key_file',
      },
    );
  }
  const pair = keypairFromPrivateHex(text);
  if (!pair) throw new SidecarError('SIDECAR_ERR_BACKEND_KEY', `${file} does not hold an ejson private key (64 hex digits)`);
  if (Buffer.from(pair.publicKey).toString('hex') !== publicKey) {
    throw new SidecarError('SIDECAR_ERR_BACKEND_KEY', `the private key in ${file} is not the one for ejson public key ${publicKey}`, {
      hint: 'the file was encrypted for another keypair',
    });
  }
  return pair;
}
