import type { Position } from './lexer.js';

/**
 * What the translator knows of a value while it translates: the Handlebars expression that computes it, and
 * what it is in Go terms, since consul-template wraps a secret in a struct (`.Data`, `.Data.data` on KV v2)
 * where our `secret` helper hands out the data itself.
 */
export type ValueKind =
  /** The top-level dot: consul-template executes templates with no data. */
  | { readonly t: 'root' }
  /** What `secret` returns: a struct with Data, LeaseID, … */
  | { readonly t: 'secret'; readonly kv2: boolean | undefined }
  /** A secret's `.Data`: on KV v2, a map holding `data` and `metadata`. */
  | { readonly t: 'data'; readonly kv2: boolean | undefined }
  /** What `pkiCert` returns: Cert, Key, CA, CAChain. */
  | { readonly t: 'pki' }
  /** Plain data: maps, lists, text, numbers. */
  | { readonly t: 'value' };

export interface Expr {
  /** A Handlebars parameter: a path (`this.a`, `v.b`), a literal, or a call in parentheses. */
  readonly code: string;
  readonly kind: ValueKind;
  /** `secret "vault:path"` with a literal reference and no arguments: fields can join it as `#key`. */
  readonly literalRef?: string;
}

export const VALUE: ValueKind = { t: 'value' };

/** A construct that cannot be translated: the translator reports it and writes an `unconverted` marker. */
export class Unconvertible extends Error {
  constructor(
    readonly construct: string,
    readonly advice: string,
    readonly pos: Position,
  ) {
    super(`${construct}: ${advice}`);
  }
}

/** `(f a b)` → `f a b`, for a mustache; a path or literal stays as it is. */
export function asMustacheBody(code: string): string {
  return code.startsWith('(') && code.endsWith(')') ? code.slice(1, -1) : code;
}
