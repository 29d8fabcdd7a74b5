/**
 * A URL as logs and errors show it: the query and fragment replaced by "[redacted]", since reload endpoints often
 * take a token there (`?token=…`). Userinfo never gets here: the config refuses it.
 */
export function redactUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return '[unparsable URL]';
  }
  return `${url.origin}${url.pathname}${url.search ? '?[redacted]' : ''}${url.hash ? '#[redacted]' : ''}`;
}
