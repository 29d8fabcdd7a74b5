import { SidecarError } from '../errors.js';
import type { SecretRef } from './secret-ref.js';

/** What a template sees of the secrets: a value, or "not fetched yet". */
export type SecretLookup = { readonly status: 'ready'; readonly value: unknown } | { readonly status: 'missing' };

export interface SecretStore {
  /** `key` is secretKey(ref): one entry per backend and path. */
  lookup(key: string, ref: SecretRef): SecretLookup;
}

export interface RenderOptions {
  readonly store: SecretStore;
  /** Replace every secret value with a placeholder naming its reference (dry runs). */
  readonly mask: boolean;
  readonly errorOnMissingKey: boolean;
  /** The environment the `env` helper reads, already filtered to the config's env_allow. */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly envAllow: readonly string[];
  /** The sidecar's credential variables: refused even when an env_allow prefix matches, unless named exactly. */
  readonly envDeny?: readonly string[];
}

/** Per-render bookkeeping the helpers fill in; handed to them through Handlebars' data frame. */
export interface RenderState {
  readonly options: RenderOptions;
  /** Secret keys the render read (or tried to), found or not. */
  readonly used: Set<string>;
  /** Secret keys that have not been fetched yet. */
  readonly missing: Map<string, SecretRef>;
  /** Every secret string the render handled, for scrubbing error messages. */
  readonly leaves: Set<string>;
  /** Placeholders produced in mask mode, so that transforming helpers pass them through. */
  readonly masks: Set<string>;
  /** Counts what loops produce, and stops a render that would outgrow its limit before it exhausts memory. */
  spend(characters: number): void;
}

export function createRenderState(options: RenderOptions, maxBytes: number, name: string): RenderState {
  let spent = 0;
  return {
    options,
    used: new Set(),
    missing: new Map(),
    leaves: new Set(),
    masks: new Set(),
    spend(characters) {
      spent += characters;
      if (spent > maxBytes) throw renderTooLarge(name, maxBytes);
    },
  };
}

export function renderTooLarge(name: string, maxBytes: number): SidecarError {
  return new SidecarError('SIDECAR_ERR_RENDER_TOO_LARGE', `template "${name}" renders more than ${maxBytes} bytes`, { hint: 'raise max_size in the template block if the output really is this large' });
}
