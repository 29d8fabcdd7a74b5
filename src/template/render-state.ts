import { randomBytes } from 'node:crypto';
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

/**
 * Work a render may do, in units: a helper call or loop iteration costs one, plus one per 32 characters of the
 * block it runs. Real templates stay far below (a 10 000-entry loop over a 200-character body costs ~70 000);
 * a hostile one stops within well under a second instead of holding the event loop.
 */
export const RENDER_BUDGET = 2_000_000;

/**
 * The work budget is counted in units, which a slow or busy machine runs slower: a render that has held the event
 * loop this long also stops, so `/healthz` answers within a second whatever the machine. Checked every
 * TIME_CHECK_UNITS units, so the clock costs nothing measurable.
 */
export const RENDER_TIME_LIMIT_MS = 500;
const TIME_CHECK_UNITS = 4096;

/**
 * Per-render bookkeeping the helpers fill in. It never sits in Handlebars' data frame (a template could read
 * or call it there): the render installs it as the current state for its synchronous run.
 */
export interface RenderState {
  readonly options: RenderOptions;
  readonly name: string;
  readonly maxBytes: number;
  /** Where each source line starts, to size blocks for the work budget. */
  readonly lineStarts: readonly number[];
  /** Secret keys the render read (or tried to), found or not. */
  readonly used: Set<string>;
  /** Secret keys that have not been fetched yet. */
  readonly missing: Map<string, SecretRef>;
  /** Every secret string the render handled, for scrubbing error messages. */
  readonly leaves: Set<string>;
  /** Placeholders produced in mask mode, each with the value it stands for (references computed from it need it). */
  readonly masks: Map<string, unknown>;
  /** Values derived from secrets (or allowed environment variables), with the literal reference each came from. */
  readonly taint: Map<unknown, string>;
  /** Stands for a value not fetched yet in this pass; unguessable, so no template or secret can forge it. */
  readonly pending: string;
  /** Binary values in the text, by the token that stands for them until the output is assembled. */
  readonly binaries: Map<string, Uint8Array>;
  readonly binaryMark: string;
  /** Counts what loops produce, and stops a render that would outgrow its limit before it exhausts memory. */
  spend(characters: number): void;
  /** Counts work (helper calls, loop iterations), and stops a render past RENDER_BUDGET. */
  charge(units: number): void;
}

export function createRenderState(
  options: RenderOptions,
  maxBytes: number,
  name: string,
  lineStarts: readonly number[] = [0],
  budget = RENDER_BUDGET,
): RenderState {
  let spent = 0;
  let work = 0;
  let nextTimeCheck = TIME_CHECK_UNITS;
  const startedAt = performance.now();
  const nonce = randomBytes(12).toString('hex');
  return {
    options,
    name,
    maxBytes,
    lineStarts,
    used: new Set(),
    missing: new Map(),
    leaves: new Set(),
    masks: new Map(),
    taint: new Map(),
    pending: `\u0000pending-${nonce}\u0000`,
    binaries: new Map(),
    binaryMark: `\u0000binary-${nonce}-`,
    spend(characters) {
      spent += characters;
      if (spent > maxBytes) throw renderTooLarge(name, maxBytes);
    },
    charge(units) {
      work += units;
      if (work > budget) {
        throw new SidecarError(
          'SIDECAR_ERR_RENDER_BUDGET',
          `template "${name}" does more work than a render may (loop iterations and helper calls past the budget)`,
          {
            hint: 'loops in loops over large secrets multiply; iterate over less, or split the template',
          },
        );
      }
      if (work >= nextTimeCheck) {
        nextTimeCheck = work + TIME_CHECK_UNITS;
        if (performance.now() - startedAt > RENDER_TIME_LIMIT_MS) {
          throw new SidecarError(
            'SIDECAR_ERR_RENDER_BUDGET',
            `template "${name}" held the event loop for more than ${RENDER_TIME_LIMIT_MS} ms in one render pass`,
            {
              hint: 'loops in loops over large secrets multiply; iterate over less, or split the template',
            },
          );
        }
      }
    },
  };
}

let current: RenderState | undefined;

/** Runs `render` with `state` as the one the helpers see. Rendering is synchronous, so one slot suffices. */
export function withRenderState<T>(state: RenderState, render: () => T): T {
  const outer = current;
  current = state;
  try {
    return render();
  } finally {
    current = outer;
  }
}

export function currentState(): RenderState {
  if (!current) throw new Error('secrets-sidecar helpers called outside a render');
  return current;
}

export function renderTooLarge(name: string, maxBytes: number): SidecarError {
  return new SidecarError('SIDECAR_ERR_RENDER_TOO_LARGE', `template "${name}" renders more than ${maxBytes} bytes`, {
    hint: 'raise max_size in the template block if the output really is this large',
  });
}
