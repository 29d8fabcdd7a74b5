import type { TemplateConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import { removeStaleTempFiles } from '../output/atomic-write.js';
import { checkDestinationFilesystem } from '../output/filesystem-check.js';
import { resolveOwnerId } from '../output/owner.js';

export interface Destination {
  readonly uid: number | undefined;
  readonly gid: number | undefined;
}

/**
 * Checks every destination before anything is written: the filesystem is tmpfs/ramfs (or disk is allowed, with
 * a warning), the owner names resolve. Also removes temp files a killed run left behind.
 */
export async function preflight(templates: readonly TemplateConfig[], logger: Logger): Promise<Map<number, Destination>> {
  const destinations = new Map<number, Destination>();
  for (const template of templates) {
    const fs = await checkDestinationFilesystem(template.destination, template.allowNonTmpfs);
    if (!fs.inMemory) {
      logger.warn({ template: template.name, destination: template.destination, filesystem: fs.name }, 'writing secrets to a filesystem that is not in memory (allow_non_tmpfs = true)');
    }
    const uid = template.user === undefined ? undefined : await resolveOwnerId(template.user, 'user');
    const gid = template.group === undefined ? undefined : await resolveOwnerId(template.group, 'group');
    destinations.set(template.index, { uid, gid });
    const removed = await removeStaleTempFiles(template.destination);
    if (removed > 0) logger.info({ destination: template.destination, removed }, 'removed temp files left by an earlier run');
  }
  return destinations;
}
