import { request } from 'node:http';
import { recordShown } from './canary.js';

/** One plain HTTP request on loopback, without keep-alive; resolves with the status and body. */
export function httpCall(port: number, method: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        // Whatever the sidecar's listener answers is shown to the world: the canary looks at it.
        if (/^\/(healthz|readyz|metrics|v1\/)/.test(path)) recordShown(`the listener's answer to ${method} ${path}`, body);
        resolve({ status: res.statusCode ?? 0, body });
      });
    })
      .once('error', reject)
      .end();
  });
}
