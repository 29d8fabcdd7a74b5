import { SidecarError } from '../errors.js';

/** `NAME:PATH#KEY`, parsed. */
export interface SecretRef {
  /** The backend block's name. */
  readonly backend: string;
  /** Whatever that backend understands: a key in a JSON file, a file name, a Vault path. */
  readonly path: string;
  /** Dot path into structured data; empty for the whole secret. */
  readonly keyPath: readonly string[];
  /** The reference as written. Internal: it may be text derived from a secret; messages use `shown`. */
  readonly text: string;
  /** The reference as messages show it: as written, or `[derived from <literal>]` when computed from a secret. */
  readonly shown: string;
  /** The secret's identity as logs, audit records, metrics and the listener show it: `backend:path?args`, with
   * every part derived from a secret replaced by its `[derived from …]` label. */
  readonly label: string;
  /** What `path` shows as, in `label`. */
  readonly pathLabel: string;
  /** Some part of the reference or its arguments is computed from a secret: a backend's message about it, which
   * may quote the path in any form, is never shown. */
  readonly derived: boolean;
}

/** Tells which texts are derived from secrets: their label, or undefined for a text written in the template. */
export type ShowText = (text: string) => string | undefined;

const NAME = /^[A-Za-z0-9_.-]+$/;

/**
 * Parses a reference. The key part is a dot path (`#tls.cert`); a literal dot in a key is written `\.`
 * (`#tls\.crt`, as in Kubernetes secret keys). `params` (a template's hash arguments, such as a certificate's
 * common_name) join the path as a canonical query, so the same reference with the same arguments is one secret
 * however many templates name it, and different arguments are different secrets.
 */
export function parseSecretRef(text: string, params: Readonly<Record<string, string>> = {}, labelOf: ShowText = () => undefined): SecretRef {
  const textLabel = labelOf(text);
  const shown = textLabel ?? text;
  const colon = text.indexOf(':');
  if (colon <= 0) throw refError(shown, 'expected "BACKEND:PATH" with an optional "#KEY"');
  const backend = text.slice(0, colon);
  if (!NAME.test(backend)) throw refError(shown, textLabel === undefined ? `"${backend}" is not a backend name` : 'the part before ":" is not a backend name');
  const rest = text.slice(colon + 1);
  const hash = rest.indexOf('#');
  const bare = hash === -1 ? rest : rest.slice(0, hash);
  if (bare.length === 0) throw refError(shown, 'the path after ":" is empty');
  const keyPath = hash === -1 ? [] : splitKeyPath(rest.slice(hash + 1), shown);
  const names = Object.keys(params).sort();
  if (names.length > 0 && bare.includes('?')) throw refError(shown, 'give arguments either in the path ("?a=b") or as template arguments, not both');
  const path = names.length === 0 ? bare : `${bare}?${new URLSearchParams(names.map((n): [string, string] => [n, params[n] ?? ''])).toString()}`;
  // Each argument shows as its label when derived from a secret, as written otherwise.
  const query = names.map((n) => {
    const value = params[n] ?? '';
    const label = labelOf(value);
    return label === undefined ? new URLSearchParams([[n, value]]).toString() : `${new URLSearchParams([[n, '']]).toString()}${label}`;
  });
  const pathLabel = `${textLabel ?? bare}${query.length > 0 ? `?${query.join('&')}` : ''}`;
  return { backend, path, keyPath, text, shown, label: `${backend}:${pathLabel}`, pathLabel, derived: pathLabel !== path };
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
