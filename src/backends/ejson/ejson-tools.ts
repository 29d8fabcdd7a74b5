import { mkdir, realpath, stat, writeFile } from 'node:fs/promises';
import { readTextBounded } from '../../bounded-read.js';
import { join } from 'node:path';
import { SidecarError } from '../../errors.js';
import type { AtomicFileWriter } from '../provider.js';
import { encrypter, generateKeypair, isBoxed } from './ejson-crypto.js';
import { parseEjson, replaceValues } from './ejson-document.js';

/**
 * `ejson keygen`: a new keypair. Printed, as Shopify's tool prints it; or, with `keyDir`, the private key written
 * to a file named by the public key there (0400, never printed) and the public key printed.
 */
export async function keygen(keyDir: string | undefined): Promise<string> {
  const { publicHex, privateHex } = generateKeypair();
  if (keyDir === undefined) return `Public Key:\n${publicHex}\nPrivate Key:\n${privateHex}\n`;
  try {
    await mkdir(keyDir, { recursive: true, mode: 0o700 });
    await writeFile(join(keyDir, publicHex), privateHex, { mode: 0o400, flag: 'wx' });
  } catch (cause) {
    // A key directory that is a file, read-only or full is the operator's to fix: coded, never "a bug".
    const { code, syscall } = cause as NodeJS.ErrnoException;
    throw new SidecarError('SIDECAR_ERR_OUTPUT_WRITE', `cannot write the private key into ${keyDir}: ${code ?? 'error'} (${syscall ?? 'io'})`, { cause });
  }
  return `${publicHex}\n`;
}

/**
 * `ejson encrypt FILE`: encrypts every plain value in place, leaving encrypted ones, underscore keys and the
 * layout of the file as they are, as Shopify's tool does. Needs only the public key in the file.
 */
export async function encryptFile(file: string, writeAtomic: AtomicFileWriter): Promise<{ encrypted: number; bytes: number }> {
  const cannotRead = (cause: unknown) => new SidecarError('SIDECAR_ERR_USAGE', `cannot read ${file} (${(cause as NodeJS.ErrnoException).code ?? 'error'})`);
  // A symlink (a shared config checkout, a Kubernetes ..data link) is kept: the file it points to is encrypted in
  // place, atomically beside itself. Replacing the link would leave the real file in plain text.
  const target = await realpath(file).catch((cause: unknown) => {
    throw cannotRead(cause);
  });
  // The atomic write gives the file a new inode: another hard link to the old one would keep the plain text.
  const { mode, nlink, uid, gid } = await stat(target).catch((cause: unknown) => {
    throw cannotRead(cause);
  });
  if (nlink > 1) {
    throw new SidecarError('SIDECAR_ERR_USAGE', `refusing to encrypt ${file}: it has ${nlink} hard links, and the others would keep the plain text`, {
      hint: 'remove the other hard links (find -samefile) or encrypt a copy, then link it again',
    });
  }
  const raw = await readTextBounded(target).catch((cause: unknown) => {
    throw cannotRead(cause);
  });
  const document = parseEjson(raw, file);
  const seal = encrypter(Buffer.from(document.publicKey, 'hex'));
  const plain = document.values.filter((v) => !isBoxed(v.value));
  const text = replaceValues(
    document.text,
    plain.map((at) => ({ at, with: seal(at.value) })),
  );
  // The file lives in a repository, on disk: that is where an encrypted file belongs.
  // Root encrypting someone's file (sudo) keeps it theirs; anyone else can only write files of their own.
  const owner = process.getuid?.() === 0 ? { uid, gid } : {};
  await writeAtomic(target, text, { perms: mode & 0o7777, createDirs: false, allowNonTmpfs: true, ...owner });
  return { encrypted: plain.length, bytes: Buffer.byteLength(text) };
}
