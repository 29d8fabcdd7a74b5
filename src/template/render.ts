import { SidecarError, isSidecarError } from '../errors.js';
import { scrubSecrets } from '../sealed.js';
import type { CompiledTemplate } from './compile.js';
import { createRenderState, renderTooLarge, type RenderOptions } from './render-state.js';
import type { SecretRef } from './secret-ref.js';

export type RenderResult =
  | { readonly status: 'complete'; readonly text: string; readonly used: ReadonlySet<string> }
  | { readonly status: 'incomplete'; readonly used: ReadonlySet<string>; readonly missing: ReadonlyMap<string, SecretRef> };

const RUNTIME_OPTIONS = {
  allowProtoPropertiesByDefault: false,
  allowProtoMethodsByDefault: false,
  allowCallsToHelperMissing: false,
} as const;

/**
 * One render pass. A pass that meets secrets not fetched yet reports them as missing (the caller fetches them
 * and renders again); only a pass that met every secret produces text. Errors are scrubbed of secret values.
 */
export function renderTemplate(template: CompiledTemplate, options: RenderOptions): RenderResult {
  const state = createRenderState(options, template.maxBytes, template.name);
  let text: string;
  try {
    text = template.run({}, { ...RUNTIME_OPTIONS, data: { sidecar: state } });
    if (Buffer.byteLength(text) > template.maxBytes) throw renderTooLarge(template.name, template.maxBytes);
  } catch (error) {
    // With secrets still missing, placeholders may have broken the render; the complete pass will tell.
    if (state.missing.size > 0) return { status: 'incomplete', used: state.used, missing: state.missing };
    throw renderError(template.name, error, state.leaves);
  }
  if (state.missing.size > 0) return { status: 'incomplete', used: state.used, missing: state.missing };
  return { status: 'complete', text, used: state.used };
}

function renderError(name: string, error: unknown, leaves: ReadonlySet<string>): SidecarError {
  if (isSidecarError(error)) {
    return new SidecarError(error.code, `template "${name}" ${scrubSecrets(error.message, leaves)}`, error.hint === undefined ? {} : { hint: error.hint });
  }
  const e = error as { message?: string; lineNumber?: number };
  // Handlebars' strict-mode message ends "not defined in <the object>", which can be a secret: drop that part.
  const message = (e.message ?? String(error))
    .replace(/ not defined in [\s\S]*?( - \d+:\d+)?$/, ' is not defined$1')
    // Strict mode looking a field up in a string or number: V8's TypeError quotes that value.
    .replace(/^Cannot use 'in' operator to search for '([\s\S]*?)' in [\s\S]*$/, '"$1" is not defined: it was looked up in a value that is not an object')
    .replace(/ - (\d+):\d+$/, '');
  const where = e.lineNumber === undefined ? '' : `line ${e.lineNumber}: `;
  return new SidecarError('SIDECAR_ERR_RENDER_FAILED', `template "${name}" ${where}${scrubSecrets(message, leaves)}`);
}
