import { SidecarError } from '../../errors.js';

export interface SecretRequest {
  /** The secret id as the reference names it. */
  readonly secretId: string;
  /** A version number, or undefined for the latest version. */
  readonly version: string | undefined;
}

/** Secret Manager's own rule for a secret id. */
const SECRET_ID = /^[A-Za-z0-9_-]{1,255}$/;
const VERSION = /^[1-9][0-9]{0,18}$/;

/** "db-password" or "db-password?version=3" into its parts; anything else is a coded error, never a request. */
export function parseSecretRequest(path: string): SecretRequest {
  const [secretId = path, query] = path.split('?', 2);
  if (!SECRET_ID.test(secretId)) {
    throw new SidecarError('SIDECAR_ERR_REF_INVALID', `"${path.slice(0, 300)}": a secret id is 1 to 255 letters, digits, "_" or "-"`);
  }
  if (query === undefined) return { secretId, version: undefined };
  const params = new URLSearchParams(query);
  const unknown = [...params.keys()].filter((key) => key !== 'version');
  if (unknown.length > 0)
    throw new SidecarError('SIDECAR_ERR_REF_INVALID', `"${secretId}": unknown option "${unknown[0]?.slice(0, 50) ?? ''}" (known: version)`);
  const version = params.get('version') ?? '';
  if (version === 'latest') return { secretId, version: undefined };
  if (!VERSION.test(version)) throw new SidecarError('SIDECAR_ERR_REF_INVALID', `"${secretId}": version is a version number or "latest"`);
  return { secretId, version };
}
