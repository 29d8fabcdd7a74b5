/**
 * Text a server chose (an exception name, an error code or message) as a message may quote it: its first line, at
 * most `max` characters. A hostile or broken server could otherwise put megabytes into every log line at each retry.
 */
export function serverText(text: string | undefined, max = 300): string {
  const line = (text ?? '').split('\n', 1)[0] ?? '';
  if (line.length <= max) return line;
  // Never cut a surrogate pair in half.
  const cut = /[\uD800-\uDBFF]/.test(line[max - 1] ?? '') ? max - 1 : max;
  return `${line.slice(0, cut)}…`;
}
