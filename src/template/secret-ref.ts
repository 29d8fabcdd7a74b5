import { SidecarError } from '../errors.js';

/** `NAME:PATH#KEY`, parsed. */
export interface SecretRef {
  /** The backend block's name. */
  readonly backend: string;
  /** Whatever that backend understands: a key in a JSON file, a file name, a Vault path. */
  readonly path: string;
  /** Dot path into structured data; empty for the whole secret. */
  readonly keyPath: readonly string[];
  /** The reference as written, for messages. */
  readonly text: string;
}

const NAME = /^[A-Za-z0-9_.-]+$/;

/**
 * Parses a reference. The key part is a dot path (`#tls.cert`); a literal dot in a key is written `\.`
 * (`#tls\.crt`, as in Kubernetes secret keys). `params` (a template's hash arguments, such as a certificate's
 * common_name) join the path as a canonical query, so the same reference with the same arguments is one secret
 * however many templates name it, and different arguments are different secrets.
 */
export function parseSecretRef(text: string, params: Readonly<Record<string, string>> = {}): SecretRef {
  const colon = text.indexOf(':');
  if (colon <= 0) throw refError(text, 'expected "BACKEND:PATH" with an optional "#KEY"');
  const backend = text.slice(0, colon);
  if (!NAME.test(backend)) throw refError(text, `"${backend}" is not a backend name`);
  const rest = text.slice(colon + 1);
  const hash = rest.indexOf('#');
  const path = hash === -1 ? rest : rest.slice(0, hash);
  if (path.length === 0) throw refError(text, 'the path after ":" is empty');
  const keyPath = hash === -1 ? [] : splitKeyPath(rest.slice(hash + 1), text);
  return { backend, path: withParams(path, params, text), keyPath, text };
}

function withParams(path: string, params: Readonly<Record<string, string>>, text: string): string {
  const names = Object.keys(params).sort();
  if (names.length === 0) return path;
  if (path.includes('?')) throw refError(text, 'give arguments either in the path ("?a=b") or as template arguments, not both');
  const query = new URLSearchParams(names.map((n): [string, string] => [n, params[n] ?? '']));
  return `${path}?${query.toString()}`;
}

function splitKeyPath(key: string, text: string): string[] {
  const segments: string[] = [];
  let current = '';
  for (let i = 0; i < key.length; i++) {
    const ch = key[i];
    if (ch === '\\' && key[i + 1] === '.') {
      current += '.';
      i++;
    } else if (ch === '.') {
      segments.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  segments.push(current);
  if (segments.some((s) => s.length === 0)) throw refError(text, 'the key after "#" has an empty segment');
  return segments;
}

/** The identity of the secret a reference reads: references differing only by key share one fetch. */
export function secretKey(ref: Pick<SecretRef, 'backend' | 'path'>): string {
  return `${ref.backend}:${ref.path}`;
}

function refError(text: string, why: string): SidecarError {
  return new SidecarError('SIDECAR_ERR_REF_INVALID', `invalid secret reference "${text}": ${why}`);
}

/** Follows a key path into structured data; `found: false` when any step is absent. */
export function selectKey(value: unknown, keyPath: readonly string[]): { found: true; value: unknown } | { found: false } {
  let current = value;
  for (const segment of keyPath) {
    if (current === null || typeof current !== 'object') return { found: false };
    if (!Object.prototype.hasOwnProperty.call(current, segment)) return { found: false };
    current = (current as Record<string, unknown>)[segment];
  }
  return { found: true, value: current };
}
