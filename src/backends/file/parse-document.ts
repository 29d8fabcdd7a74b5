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
      hint: 'the file is read again on the next retry and whenever it changes',
    });
  }
}

function positionOf(error: unknown, text: string): string {
  const yamlPos = (error as { linePos?: [{ line: number; col: number }] }).linePos?.[0];
  if (yamlPos) return ` (line ${yamlPos.line}, column ${yamlPos.col})`;
  // JSON.parse names no position in newer V8 (and quotes the text instead); ask a parser that reports offsets.
  const errors: ParseError[] = [];
  parseTree(text, errors, { disallowComments: true, allowTrailingComma: false });
  const offset = errors[0]?.offset;
  if (offset === undefined) return '';
  const before = text.slice(0, offset);
  return ` (line ${before.split('\n').length}, column ${offset - before.lastIndexOf('\n')})`;
}
