import { readFile } from 'node:fs/promises';
import { SidecarError } from '../errors.js';

/**
 * Resolves a user or group name to its id from /etc/passwd or /etc/group. Node has no getpwnam, and the
 * sidecar runs in minimal images without `id`, so the two colon-separated files are read directly.
 */
export async function resolveOwnerId(value: number | string, kind: 'user' | 'group', files = { passwd: '/etc/passwd', group: '/etc/group' }): Promise<number> {
  if (typeof value === 'number') return value;
  if (/^\d+$/.test(value)) return Number(value);
  const file = kind === 'user' ? files.passwd : files.group;
  const text = await readFile(file, 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    const [name, , id] = line.split(':');
    if (name === value && id !== undefined && /^\d+$/.test(id)) return Number(id);
  }
  throw new SidecarError('SIDECAR_ERR_OUTPUT_OWNER', `${kind} "${value}" not found in ${file}`);
}
