import type { HelperOptions } from 'handlebars';
import { SidecarError } from '../errors.js';
import { goJSON } from './go-json.js';
import { goYAML } from './go-yaml.js';
import { define, helperError, reserve } from './helper-kit.js';
import type { RenderState } from './render-state.js';

/*
 * Output exactly as consul-template writes it, for converted templates: toJSON (Go's escaping of <>&, sorted
 * keys), toJSONPretty (two-space indent) and toYAML (yaml.v2), each trimmed of surrounding white space as
 * consul-template does. The existing `json` helper keeps its own behaviour.
 */

function formatted(
  name: string,
  format: (value: unknown, visit: (v: unknown) => void) => string,
): (state: RenderState, args: unknown[], options: HelperOptions) => string {
  return (state, [value], options) => {
    const visit = (v: unknown): void => {
      // Each node costs a unit; binary bytes are not text.
      state.charge(1);
      if (typeof v === 'string') {
        state.charge(v.length >> 10);
        if (v.includes(state.binaryMark)) throw helperError(options, 'SIDECAR_ERR_RENDER_BINARY', `${name} was given binary bytes, which are not text`);
      }
    };
    let text: string;
    try {
      text = format(value, visit);
    } catch (error) {
      if (error instanceof SidecarError) throw error;
      throw helperError(options, 'SIDECAR_ERR_RENDER_FAILED', `${name}: ${(error as Error).message}`);
    }
    reserve(state, text.length);
    return text;
  };
}

export const GO_FORMAT_HELPERS = {
  toJSON: define(
    'toJSON',
    formatted('toJSON', (v, visit) => goJSON(v, undefined, visit)),
  ),
  toJSONPretty: define(
    'toJSONPretty',
    formatted('toJSONPretty', (v, visit) => goJSON(v, '  ', visit)),
  ),
  toYAML: define(
    'toYAML',
    formatted('toYAML', (v, visit) => goYAML(v, visit)),
  ),
} as const;
