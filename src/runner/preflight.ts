import { basename, dirname } from 'node:path';
import type { TemplateConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import { SidecarError } from '../errors.js';
import { removeStaleTempFiles } from '../output/atomic-write.js';
import { UNSAFE_DIR_HINT, directoryRisks } from '../output/directory-safety.js';
import { filesystemOf, notInMemoryError } from '../output/filesystem-check.js';
import { resolveOwnerId } from '../output/owner.js';

export interface Destination {
  readonly uid: number | undefined;
  readonly gid: number | undefined;
  /** strict = true: the directory rules checked here hold at every write too. */
  readonly strict?: boolean;
}

/**
 * Checks every destination before anything is written: the filesystem is tmpfs/ramfs (or disk is allowed, with
 * a warning) and the owner names resolve. Also removes temp files a killed run left behind. Work is done once
 * per directory and concurrently, since hundreds of templates commonly share one output directory.
 */
export async function preflight(templates: readonly TemplateConfig[], logger: Logger, strict = false): Promise<Map<number, Destination>> {
  // Map.groupBy would do, but Node 20 lacks it.
  const byDirectory = new Map<string, TemplateConfig[]>();
  for (const t of templates) byDirectory.set(dirname(t.destination), [...(byDirectory.get(dirname(t.destination)) ?? []), t]);
  await Promise.all(
    [...byDirectory].map(async ([directory, group]) => {
      const risks = await directoryRisks(directory);
      if (risks.length > 0) {
        const message = `a destination directory others could tamper with: ${risks.join('; ')}`;
        if (strict) throw new SidecarError('SIDECAR_ERR_OUTPUT_UNSAFE_DIR', message, { hint: UNSAFE_DIR_HINT });
        logger.warn({ directory, risks }, 'a destination directory others could tamper with (strict = true makes this an error)');
      }
      const fs = await filesystemOf(directory);
      for (const template of group) {
        if (fs.inMemory) continue;
        if (!template.allowNonTmpfs) throw notInMemoryError(template.destination, fs);
        logger.warn(
          { template: template.name, destination: template.destination, filesystem: fs.name },
          'writing secrets to a filesystem that is not in memory (allow_non_tmpfs = true)',
        );
      }
      const removed = await removeStaleTempFiles(directory, new Set(group.map((t) => basename(t.destination))));
      if (removed > 0) logger.info({ directory, removed }, 'removed temp files left by an earlier run');
    }),
  );
  const owners = await Promise.all(
    templates.map(async (t): Promise<[number, Destination]> => {
      const [uid, gid] = await Promise.all([
        t.user === undefined ? undefined : resolveOwnerId(t.user, 'user'),
        t.group === undefined ? undefined : resolveOwnerId(t.group, 'group'),
      ]);
      return [t.index, { uid, gid, strict }];
    }),
  );
  return new Map(owners);
}
