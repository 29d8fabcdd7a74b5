import { writeAtomically } from './atomic-write.js';

/** An atomic write with the owner left as it is: what the CLI and the runner hand to backends that keep files. */
export async function writeFileAtomically(
  destination: string,
  contents: string,
  options: { readonly perms: number; readonly createDirs: boolean; readonly allowNonTmpfs: boolean },
): Promise<void> {
  await writeAtomically({
    destination,
    contents,
    perms: options.perms,
    uid: undefined,
    gid: undefined,
    createDirs: options.createDirs,
    allowNonTmpfs: options.allowNonTmpfs,
  });
}
