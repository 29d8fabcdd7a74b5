/**
 * A URL as logs and errors show it: the query and fragment replaced by "[redacted]", since reload endpoints often
 * take a token there (`?token=…`), and so is every path segment that looks like a token: webhooks (Slack, Discord,
 * Teams) carry theirs in the path. Userinfo never gets here: the config refuses it.
 */
export function redactUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return '[unparsable URL]';
  }
  const path = url.pathname
    .split('/')
    .map((segment) => (looksLikeToken(segment) ? '[redacted]' : segment))
    .join('/');
  return `${url.origin}${path}${url.search ? '?[redacted]' : ''}${url.hash ? '#[redacted]' : ''}`;
}

/** 16 characters or more, with letters and digits mixed: a random token or key, not a word or a number. */
function looksLikeToken(segment: string): boolean {
  return segment.length >= 16 && /[A-Za-z]/.test(segment) && /[0-9]/.test(segment);
}
