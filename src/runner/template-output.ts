import type { TemplateConfig } from '../config/types.js';
import { writeAtomically } from '../output/atomic-write.js';
import type { Destination } from './preflight.js';

/** Where a rendered template goes: a file, or a variable of the supervised child's environment. */
export interface TemplateOutput {
  /** For log lines: a path, or "env:NAME". */
  readonly label: string;
  write(text: string): Promise<'written' | 'unchanged'>;
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
    write: (text) => {
      if (values.get(name) === text) return Promise.resolve('unchanged');
      values.set(name, text);
      onChange();
      return Promise.resolve('written');
    },
  };
}
