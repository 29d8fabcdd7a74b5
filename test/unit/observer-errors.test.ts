import { afterEach, describe, expect, it } from 'vitest';
import { publishAudit, subscribeEvents } from '../../src/events.js';
import { AuditSink } from '../../src/observe/audit-sink.js';

/*
 * node:diagnostics_channel rethrows a subscriber's exception as an uncaught exception on the next tick: an observer
 * that fails (an audit file on a full disk) would end the daemon. Each observer's failure stays its own.
 */
const stops: (() => unknown)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
});

const fetched = { event: 'secret.fetch', backend: 'local', path: 'k', outcome: 'ok', durationMs: 1 } as const;

describe('an observer that throws', () => {
  it('is reported to its own error handler, and the other subscribers still get every event', () => {
    const failures: unknown[] = [];
    const seen: string[] = [];
    stops.push(
      subscribeEvents(
        () => {
          throw new Error('observer broke');
        },
        (error) => failures.push(error),
      ),
    );
    stops.push(subscribeEvents((event) => seen.push(event.kind)));
    publishAudit(fetched);
    publishAudit(fetched);
    expect(failures).toHaveLength(2);
    expect(seen).toEqual(['audit', 'audit']);
  });
});

describe('an audit file on a full disk', () => {
  it('fails its writes with ENOSPC and closes without waiting to flush them (shutdown used to hang forever)', () => {
    const sink = new AuditSink({ path: '/dev/full' });
    expect(() => sink.write({ event: 'secret.fetch', backend: 'local', path: 'a', outcome: 'ok', durationMs: 1 })).toThrow(/ENOSPC/);
    // Before the fix this call never returned: the test would hang until vitest's timeout.
    sink.close();
  });
});
