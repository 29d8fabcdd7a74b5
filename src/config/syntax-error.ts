import { SidecarError } from '../errors.js';
import type { Position } from './located.js';

/** "file:line:col: message", the shape editors and terminals turn into links. */
export function formatLocation(file: string, pos: Position): string {
  return `${file}:${pos.line}:${pos.column}`;
}

export function configSyntaxError(file: string, pos: Position, message: string, hint?: string): SidecarError {
  return new SidecarError('SIDECAR_ERR_CONFIG_SYNTAX', `${formatLocation(file, pos)}: ${message}`, hint === undefined ? {} : { hint });
}
