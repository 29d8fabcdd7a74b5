import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { makeTmpfsDir } from './dirs.js';

export interface Project {
  /** Where the config, secrets and templates live. */
  readonly root: string;
  /** Where templates render to (on tmpfs). */
  readonly out: string;
  readonly config: string;
  readonly secretsFile: string;
  write(relative: string, text: string): Promise<void>;
}

/**
 * A throwaway project on tmpfs: `config` is HCL with `@OUT@` and `@ROOT@` replaced by the output and project dirs.
 */
export async function makeProject(files: { config: string; secrets?: unknown; templates?: Record<string, string> }): Promise<Project> {
  const root = await makeTmpfsDir('sidecar-e2e-');
  const out = join(root, 'out');
  const write = async (relative: string, text: string) => {
    await mkdir(dirname(join(root, relative)), { recursive: true });
    await writeFile(join(root, relative), text);
  };
  const configName = files.config.trimStart().startsWith('{') ? 'sidecar.json' : 'sidecar.hcl';
  await write(configName, files.config.replaceAll('@OUT@', out).replaceAll('@ROOT@', root));
  if (files.secrets !== undefined) await write('secrets.json', JSON.stringify(files.secrets, null, 2));
  for (const [name, text] of Object.entries(files.templates ?? {})) await write(join('templates', name), text);
  return { root, out, config: join(root, configName), secretsFile: join(root, 'secrets.json'), write };
}
