import { formatDuration } from '../config/duration.js';
import { SidecarError } from '../errors.js';
import { deadlineSignal } from '../timer.js';
import { redactUrl } from './redact-url.js';

export interface HttpHook {
  readonly url: string;
  readonly method: 'GET' | 'POST' | 'PUT';
  readonly headers: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
}

/** Calls a reload endpoint (Prometheus' /-/reload, an app's admin API); any 2xx is success. */
export async function callHttpHook(hook: HttpHook, what: string): Promise<number> {
  const target = `${hook.method} ${redactUrl(hook.url)}`;
  const deadline = deadlineSignal(
    hook.timeoutMs,
    () => new SidecarError('SIDECAR_ERR_RELOAD_TIMEOUT', `${what}: ${target} did not answer within ${formatDuration(hook.timeoutMs)}`),
  );
  try {
    let response: Response;
    try {
      response = await fetch(hook.url, { method: hook.method, headers: hook.headers, redirect: 'manual', signal: deadline.signal });
    } catch (cause) {
      if (deadline.signal.aborted) throw deadline.signal.reason as SidecarError;
      // A code, never the error's message: undici may quote the URL in it.
      const reason = ((cause as Error).cause as NodeJS.ErrnoException | undefined)?.code ?? (cause as Error).name;
      throw new SidecarError('SIDECAR_ERR_RELOAD_FAILED', `${what}: ${target} failed (${reason})`, { cause });
    }
    // The body is not read into any message: a reload endpoint may echo configuration back.
    await response.body?.cancel();
    if (response.status < 200 || response.status > 299) throw new SidecarError('SIDECAR_ERR_RELOAD_FAILED', `${what}: ${target} answered ${response.status}`);
    return response.status;
  } finally {
    deadline.clear();
  }
}
