import { mkdir, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A secret volume laid out the way the kubelet's atomic writer does it: the data in a timestamped directory,
 * `..data` pointing at it, and each key a symlink through `..data`.
 */
export async function makeKubernetesVolume(volume: string, files: Record<string, string>): Promise<void> {
  await mkdir(volume, { recursive: true });
  const generation = await writeGeneration(volume, 1, files);
  await symlink(generation, join(volume, '..data'));
  for (const name of Object.keys(files)) await symlink(join('..data', name), join(volume, name));
}

/** An update as the kubelet makes it: new generation, `..data_tmp` renamed over `..data`, old generation removed. */
export async function updateKubernetesVolume(volume: string, files: Record<string, string>): Promise<void> {
  const previous = await readlink(join(volume, '..data'));
  const generation = await writeGeneration(volume, Number(previous.split('.').pop()) + 1, files);
  await symlink(generation, join(volume, '..data_tmp'));
  await rename(join(volume, '..data_tmp'), join(volume, '..data'));
  await rm(join(volume, previous), { recursive: true });
}

async function writeGeneration(volume: string, n: number, files: Record<string, string>): Promise<string> {
  const name = `..2026_11_24_09_00_0${n}.${n}`;
  await mkdir(join(volume, name));
  for (const [file, text] of Object.entries(files)) await writeFile(join(volume, name, file), text);
  return name;
}
