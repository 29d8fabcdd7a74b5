import { z } from 'zod';
import { DURATION_BOUNDS, durationOutOfBounds, parseDuration, type DurationBounds } from './duration.js';

/*
 * Schema pieces shared by the config's own blocks and by the providers' blocks (src/backends/<provider>/provider.ts):
 * an option several providers take is declared here once, so its name, range and message cannot drift apart.
 */

/** A duration option, in milliseconds, within its range (see DURATION_BOUNDS for why each range is what it is). */
export function duration(range: DurationBounds) {
  return z.string({ error: 'expected a duration such as "10s" or "5m"' }).transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `"${text.slice(0, 40)}" is not a duration; write it like "250ms", "10s", "5m" or "1h30m"` });
      return z.NEVER;
    }
    const outside = durationOutOfBounds(ms, range);
    if (outside !== undefined) {
      ctx.addIssue({ code: 'custom', message: outside });
      return z.NEVER;
    }
    return ms;
  });
}

/**
 * An http(s) URL without user:password@ in it: fetch refuses such a URL, and every log line and error naming the
 * endpoint would carry the password. The message never repeats the URL.
 */
export function httpUrl(protocol: RegExp, error: string) {
  return z.url({ protocol, error }).refine(
    (text) => {
      try {
        const url = new URL(text);
        return url.username === '' && url.password === '';
      } catch {
        return true; // z.url reports it
      }
    },
    {
      message: 'a URL may not carry credentials (user:password@host): they would show in logs and errors; give them another way (for a notify hook, a header)',
    },
  );
}

/** An http:// or https:// endpoint. */
export const httpEndpoint = () => httpUrl(/^https?$/, 'expected an http:// or https:// URL');

/** A path option: relative paths are resolved against the config file's directory by the resolver. */
export const pathOption = () => z.string().min(1);

/** How often a secret is read again to see whether it changed (`refresh_interval`, Vault's `static_refresh_interval`). */
export const refreshInterval = () => duration(DURATION_BOUNDS.refreshInterval);
/** Its default, the same for every provider that polls. */
export const DEFAULT_REFRESH_INTERVAL_MS = 300_000;

/** File polling for filesystems without inotify (`poll_interval`). */
export const pollInterval = () => duration(DURATION_BOUNDS.pollInterval);

/** The deadline of one request (`request_timeout`). */
export const requestTimeout = () => duration(DURATION_BOUNDS.requestTimeout);
/** Its default, the same for every provider that makes requests. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** A cap on a backend's calls per second (`max_requests_per_second`), at most `max`. */
export const maxRequestsPerSecond = (max: number) => z.number().positive().max(max);
