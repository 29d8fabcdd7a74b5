import { SidecarError } from '../errors.js';

export interface HttpHook {
  readonly url: string;
  readonly method: 'GET' | 'POST' | 'PUT';
  readonly headers: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
}

/** Calls a reload endpoint (Prometheus' /-/reload, an app's admin API); any 2xx is success. */
export async function callHttpHook(hook: HttpHook, what: string): Promise<number> {
  let response: Response;
  try {
    response = await fetch(hook.url, { method: hook.method, headers: hook.headers, redirect: 'manual', signal: AbortSignal.timeout(hook.timeoutMs) });
  } catch (cause) {
    const name = (cause as Error).name;
    if (name === 'TimeoutError') throw new SidecarError('SIDECAR_ERR_RELOAD_TIMEOUT', `${what}: ${hook.method} ${hook.url} did not answer within ${hook.timeoutMs} ms`, { cause });
    const reason = ((cause as Error).cause as NodeJS.ErrnoException | undefined)?.code ?? (cause as Error).message;
    throw new SidecarError('SIDECAR_ERR_RELOAD_FAILED', `${what}: ${hook.method} ${hook.url} failed (${reason})`, { cause });
  }
  // The body is not read into any message: a reload endpoint may echo configuration back.
  await response.body?.cancel();
  if (response.status < 200 || response.status > 299) throw new SidecarError('SIDECAR_ERR_RELOAD_FAILED', `${what}: ${hook.method} ${hook.url} answered ${response.status}`);
  return response.status;
}
