import { writeAtomically, type WriteRequest } from './atomic-write.js';

/** An atomic write, owned by the writer unless told: what the CLI and the runner hand to backends that keep files. */
export async function writeFileAtomically(
  destination: string,
  contents: string,
  options: Pick<WriteRequest, 'perms' | 'createDirs' | 'allowNonTmpfs'> & Partial<Pick<WriteRequest, 'uid' | 'gid'>>,
): Promise<void> {
  await writeAtomically({
    destination,
    contents,
    perms: options.perms,
    uid: options.uid,
    gid: options.gid,
    createDirs: options.createDirs,
    allowNonTmpfs: options.allowNonTmpfs,
  });
}
