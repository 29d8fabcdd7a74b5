import { SidecarError, isSidecarError } from '../errors.js';
import type { RenderOptions } from '../template/render-state.js';
import { renderTemplate } from '../template/render.js';
import type { Watcher } from '../watch/watcher.js';
import type { LoadedTemplate } from './load-templates.js';
import { renderTurn } from './render-turn.js';
import { storeOf } from './watcher-store.js';

/** Secrets can be named by other secrets; this bounds how deep such chains may go. */
export const MAX_RENDER_PASSES = 16;

/**
 * Renders until every secret the template reaches has been fetched: each pass reports the references it could
 * not resolve yet, they are fetched, and the template is rendered again.
 */
export async function renderToCompletion(template: LoadedTemplate, watcher: Watcher, options: Omit<RenderOptions, 'store'>): Promise<Buffer> {
  const store = storeOf(watcher);
  for (let pass = 0; pass < MAX_RENDER_PASSES; pass++) {
    await renderTurn();
    const result = renderTemplate(template.compiled, { ...options, store });
    if (result.status === 'complete') return result.bytes;
    await Promise.all(
      [...result.missing].map(async ([key, ref]) => {
        try {
          await watcher.request(key, ref).firstValue();
        } catch (error) {
          if (!isSidecarError(error)) throw error;
          throw new SidecarError(
            error.code,
            `template "${template.config.name}": secret "${ref.shown}": ${error.message}`,
            error.hint === undefined ? { cause: error } : { hint: error.hint, cause: error },
          );
        }
      }),
    );
  }
  throw new SidecarError('SIDECAR_ERR_RENDER_UNSETTLED', `template "${template.config.name}" still asked for new secrets after ${MAX_RENDER_PASSES} passes`, {
    hint: 'a secret reference computed from other secrets may form a chain or cycle',
  });
}
