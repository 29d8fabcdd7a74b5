import { z } from 'zod';
import { pathOption, pollInterval } from '../../config/schema-fragments.js';
import { defineProvider } from '../provider.js';

export type FileBackendFormat = 'json' | 'yaml' | 'directory';

export interface FileBackendConfig {
  readonly type: 'file';
  readonly name: string;
  readonly path: string;
  /** undefined: decided from the path when the backend opens (directory, .json, .yaml/.yml). */
  readonly format: FileBackendFormat | undefined;
  /** undefined: inotify. Set for filesystems without it (NFS, some FUSE mounts): chokidar polls at this interval. */
  readonly pollIntervalMs: number | undefined;
}

/** `backend "file" "name" { path = … }`: a JSON or YAML document, or a directory of one file per secret. */
export const fileProvider = defineProvider({
  type: 'file',
  schema: z.strictObject({
    path: pathOption(),
    format: z.enum(['json', 'yaml', 'directory']).optional(),
    poll_interval: pollInterval().optional(),
  }),
  resolve: (block, { name, path }): FileBackendConfig =>
    Object.freeze({ type: 'file', name, path: path(block.path), format: block.format, pollIntervalMs: block.poll_interval }),
  async open(config, deps) {
    const { FileBackend } = await import('./file-backend.js');
    return new FileBackend(config, deps.logger.child({ backend: config.name }));
  },
  bundleExternal: [],
});
