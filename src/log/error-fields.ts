import { isSidecarError } from '../errors.js';

/**
 * What of an error goes into a log line: code, message and hint. Never the cause chain or the error object
 * itself, whose properties (a response body, a parsed document) could hold a secret.
 */
export function errorFields(error: unknown): { code: string; message: string; hint?: string } {
  if (isSidecarError(error))
    return error.hint === undefined ? { code: error.code, message: error.message } : { code: error.code, message: error.message, hint: error.hint };
  return { code: 'SIDECAR_ERR_INTERNAL', message: error instanceof Error ? error.message : String(error) };
}
