import { SidecarError, isSidecarError } from '../errors.js';
import { scrubSecrets } from '../sealed.js';
import type { CompiledTemplate } from './compile.js';
import { createRenderState, renderTooLarge, withRenderState, type RenderOptions, type RenderState } from './render-state.js';
import type { SecretRef } from './secret-ref.js';

export type RenderResult =
  /** `bytes`: the output, byte for byte (binary values included as they are). */
  | { readonly status: 'complete'; readonly bytes: Buffer; readonly used: ReadonlySet<string> }
  | { readonly status: 'incomplete'; readonly used: ReadonlySet<string>; readonly missing: ReadonlyMap<string, SecretRef> };

const RUNTIME_OPTIONS = {
  allowProtoPropertiesByDefault: false,
  allowProtoMethodsByDefault: false,
  allowCallsToHelperMissing: false,
} as const;

/** Errors no further pass can change: they stop the render even with secrets still missing. */
const FINAL_CODES = new Set(['SIDECAR_ERR_RENDER_BUDGET', 'SIDECAR_ERR_RENDER_TOO_LARGE']);

/**
 * One render pass. A pass that meets secrets not fetched yet reports them as missing (the caller fetches them
 * and renders again); only a pass that met every secret produces output. Errors are scrubbed of secret values.
 * The render state is never in Handlebars' data frame: nothing internal is reachable from the template.
 */
export function renderTemplate(template: CompiledTemplate, options: RenderOptions, budget?: number): RenderResult {
  // Generating the code (on the first render) is not the template's work: it counts against no budget.
  const run = template.program();
  const state = createRenderState(options, template.maxBytes, template.name, template.lineStarts, budget);
  let bytes: Buffer;
  try {
    const text = withRenderState(state, () => run({}, RUNTIME_OPTIONS));
    bytes = assemble(text, state);
    if (bytes.length > template.maxBytes) throw renderTooLarge(template.name, template.maxBytes);
  } catch (error) {
    // With secrets still missing, placeholders may have broken the render; the complete pass will tell.
    const final = isSidecarError(error) && FINAL_CODES.has(error.code);
    if (state.missing.size > 0 && !final) return { status: 'incomplete', used: state.used, missing: state.missing };
    throw renderError(template.name, error, state);
  }
  if (state.missing.size > 0) return { status: 'incomplete', used: state.used, missing: state.missing };
  return { status: 'complete', bytes, used: state.used };
}

/** The text with each binary token replaced by the bytes it stands for. */
function assemble(text: string, state: RenderState): Buffer {
  if (state.binaries.size === 0 || !text.includes(state.binaryMark)) return Buffer.from(text, 'utf8');
  const parts: Buffer[] = [];
  let from = 0;
  for (let at = text.indexOf(state.binaryMark); at !== -1; at = text.indexOf(state.binaryMark, from)) {
    const end = text.indexOf('\u0000', at + state.binaryMark.length);
    const bytes = state.binaries.get(text.slice(at, end + 1));
    if (end === -1 || !bytes) break;
    parts.push(Buffer.from(text.slice(from, at), 'utf8'), Buffer.from(bytes));
    from = end + 1;
  }
  parts.push(Buffer.from(text.slice(from), 'utf8'));
  return Buffer.concat(parts);
}

function renderError(name: string, error: unknown, state: RenderState): SidecarError {
  const scrub = (text: string) => scrubSecrets(text, state.leaves);
  if (isSidecarError(error)) {
    const prefix = `template "${name}" `;
    const body = error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message;
    return new SidecarError(error.code, `${prefix}${scrub(body)}`, error.hint === undefined ? {} : { hint: error.hint });
  }
  const e = error as { message?: string; lineNumber?: number };
  // Handlebars' strict-mode message ends "not defined in <the object>", which can be a secret: drop that part.
  const message = (e.message ?? String(error))
    .replace(/ not defined in [\s\S]*?( - \d+:\d+)?$/, ' is not defined$1')
    // Strict mode looking a field up in a string or number: V8's TypeError quotes that value.
    .replace(/^Cannot use 'in' operator to search for '([\s\S]*?)' in [\s\S]*$/, '"$1" is not defined: it was looked up in a value that is not an object')
    .replace(/ - (\d+):\d+$/, '');
  const where = e.lineNumber === undefined ? '' : `line ${e.lineNumber}: `;
  return new SidecarError('SIDECAR_ERR_RENDER_FAILED', `template "${name}" ${where}${scrub(message)}`);
}
