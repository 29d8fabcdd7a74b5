import type { TemplateConfig } from '../config/types.js';
import { SidecarError } from '../errors.js';
import { writeAtomically } from '../output/atomic-write.js';
import type { Destination } from './preflight.js';

/** Where a rendered template goes: a file, or a variable of the supervised child's environment. */
export interface TemplateOutput {
  /** For log lines: a path, or "env:NAME". */
  readonly label: string;
  write(bytes: Uint8Array): Promise<'written' | 'unchanged'>;
}

export function fileOutput(config: TemplateConfig, destination: Destination): TemplateOutput {
  return {
    label: config.destination,
    write: async (contents) =>
      (
        await writeAtomically({
          destination: config.destination,
          contents,
          perms: config.perms,
          uid: destination.uid,
          gid: destination.gid,
          createDirs: config.createDestDirs,
          allowNonTmpfs: config.allowNonTmpfs,
          strict: destination.strict,
        })
      ).outcome,
  };
}

/** Keeps the value in `values` (shared with the supervisor); `onChange` hears of every new value. */
export function envOutput(name: string, values: Map<string, string>, onChange: () => void): TemplateOutput {
  return {
    label: `env:${name}`,
    write: (bytes) => {
      const text = environmentText(bytes);
      if (text === undefined) {
        return Promise.reject(
          new SidecarError('SIDECAR_ERR_RENDER_BINARY', `env_template "${name}" rendered binary bytes, which an environment variable cannot hold`, {
            hint: 'base64Encode the value, or render it to a file',
          }),
        );
      }
      if (values.get(name) === text) return Promise.resolve('unchanged');
      values.set(name, text);
      onChange();
      return Promise.resolve('written');
    },
  };
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** The bytes as text, or undefined when an environment variable cannot hold them (not UTF-8, or a NUL byte). */
function environmentText(bytes: Uint8Array): string | undefined {
  try {
    const text = UTF8.decode(bytes);
    return text.includes('\u0000') ? undefined : text;
  } catch {
    return undefined;
  }
}
