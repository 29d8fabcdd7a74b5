import { parseTree, type ParseError } from 'jsonc-parser';
import { parse as parseYaml } from 'yaml';
import { SidecarError } from '../../errors.js';

export type DocumentFormat = 'json' | 'yaml';

/**
 * Parses a secrets document. Parser messages can quote the offending text, which may be a secret, so only the
 * position survives into our error.
 */
export function parseDocument(text: string, format: DocumentFormat, label: string): unknown {
  try {
    return format === 'json' ? (JSON.parse(text) as unknown) : (parseYaml(text, { prettyErrors: false, uniqueKeys: true }) as unknown);
  } catch (cause) {
    throw new SidecarError('SIDECAR_ERR_BACKEND_MALFORMED', `${label} is not valid ${format.toUpperCase()}${positionOf(cause, text)}`, {
      // A local file does not heal by being read again: `once` fails at once, `run` waits for the file to change.
      retryable: false,
      hint: 'the file is read again whenever it changes',
    });
  }
}

function positionOf(error: unknown, text: string): string {
  // yaml sets linePos only with prettyErrors (which quotes the text); its offset is always there.
  const yamlOffset = (error as { pos?: [number, number] }).pos?.[0];
  if (yamlOffset !== undefined) return lineAndColumn(text, yamlOffset);
  // JSON.parse names no position in newer V8 (and quotes the text instead); ask a parser that reports offsets.
  const errors: ParseError[] = [];
  parseTree(text, errors, { disallowComments: true, allowTrailingComma: false });
  const offset = errors[0]?.offset;
  return offset === undefined ? '' : lineAndColumn(text, offset);
}

function lineAndColumn(text: string, offset: number): string {
  const before = text.slice(0, offset);
  return ` (line ${before.split('\n').length}, column ${offset - before.lastIndexOf('\n')})`;
}
