import { constants } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { DURATION_BOUNDS, parseBoundedDuration, formatDuration, type DurationBounds } from '../config/duration.js';
import type { PeerBlock } from './peer-block.js';
import type { PeerWait } from './peer-config.js';

/*
 * Options both peers write the same way (they share consul-template's config code): durations, waits, commands,
 * paths.
 */

/** The peers resolve a relative path against their working directory: so does the converter, against its own. */
export function peerPath(base: string, path: string): string {
  return isAbsolute(path) ? path : resolve(base, path);
}

/**
 * A Go duration within our bounds, as our config writes it; otherwise a report line and undefined. The peers
 * also take a bare number of nanoseconds, which nobody means: it is reported too.
 */
export function durationOption(block: PeerBlock, key: string, bounds: DurationBounds): string | undefined {
  const entry = block.take(key);
  if (!entry) return undefined;
  if (entry.node.kind !== 'scalar' || typeof entry.node.value !== 'string') {
    block.note(key, 'write the duration as a string such as "5s" in the converted config');
    return undefined;
  }
  const parsed = parseBoundedDuration(entry.node.value.trim(), bounds);
  if ('error' in parsed) {
    block.note(key, `not converted: ${parsed.error}; set it in sidecar.hcl by hand`);
    return undefined;
  }
  return formatDuration(parsed.ms);
}

/**
 * `wait = "min:max"`, `wait = "min"` (max is 4 × min, as the peers make it) or `wait { min max }`; undefined when
 * there is none or it could not be converted (then it is in the report).
 */
export function waitOption(block: PeerBlock): PeerWait | undefined {
  const entry = block.node.entries.get('wait');
  if (!entry) return undefined;
  if (entry.node.kind === 'scalar') {
    block.take('wait');
    const parts = typeof entry.node.value === 'string' ? entry.node.value.split(':') : [];
    const ms = parts.map((p) => parseBoundedDuration(p.trim(), DURATION_BOUNDS.wait));
    const [min, max] = ms;
    if (!min || 'error' in min || ms.length > 2 || (max && 'error' in max)) {
      block.note('wait', 'not converted: write wait { min = "…" max = "…" } in sidecar.hcl, each 0s to 1h');
      return undefined;
    }
    const maxMs = max && !('error' in max) ? max.ms : 4 * min.ms;
    if (maxMs > DURATION_BOUNDS.wait.maxMs || maxMs < min.ms) {
      block.note('wait', 'not converted: the sidecar takes a max of at most 1h, and at least min');
      return undefined;
    }
    return { min: formatDuration(min.ms), max: formatDuration(maxMs) };
  }
  const wait = block.block('wait');
  if (!wait) return undefined;
  const min = durationOption(wait, 'min', DURATION_BOUNDS.wait);
  let max = durationOption(wait, 'max', DURATION_BOUNDS.wait);
  wait.bool('enabled');
  wait.reportRest(() => 'not an option of wait; not converted');
  // The peers make max 4 × min when only min is given.
  if (min !== undefined && max === undefined && !wait.has('max')) {
    const fourTimes = 4 * (parseBoundedDuration(min, DURATION_BOUNDS.wait) as { ms: number }).ms;
    if (fourTimes <= DURATION_BOUNDS.wait.maxMs) max = formatDuration(fourTimes);
    else wait.note('min', "the peer waits up to 4 × min, past the sidecar's 1h: set wait.max in sidecar.hcl");
  }
  return min === undefined && max === undefined ? undefined : { min, max };
}

/**
 * A command as argv, run as consul-template runs it: one string with spaces (alone or as a one-item list) runs in
 * `sh -c`; otherwise the list is the program and its arguments.
 */
export function commandArgv(value: string | readonly string[]): string[] | undefined {
  const list = typeof value === 'string' ? [value] : [...value];
  const [first] = list;
  if (first === undefined || first.trim() === '') return undefined;
  if (list.length === 1 && first.trim().split(/\s+/).length > 1) return ['/bin/sh', '-c', first];
  return list;
}

/** Signal names as the peers take them ("SIGHUP", "HUP", "hup"), as ours ("SIGHUP"). */
export function signalOption(block: PeerBlock, key: string): string | undefined {
  const text = block.string(key);
  if (text === undefined) return undefined;
  const upper = text.trim().toUpperCase();
  const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
  if (!Object.hasOwn(constants.signals, name) || name === 'SIGKILL' || name === 'SIGSTOP') {
    block.note(key, 'not converted: write a signal name such as "SIGHUP" in sidecar.hcl');
    return undefined;
  }
  return name;
}

/** A fraction of a lifetime, as our lease_renewal_threshold takes it (0.1 to 0.95, exclusive). */
export function thresholdOption(block: PeerBlock, key: string): number | undefined {
  const text = block.numberText(key);
  if (text === undefined) return undefined;
  const value = Number(text);
  if (value > 0.1 && value < 0.95) return value;
  block.note(key, 'not converted: the sidecar takes a fraction between 0.1 and 0.95 (default 0.67)');
  return undefined;
}

/** An exec block's command as argv; without one, a report line (no exec block is written). */
export function execCommand(block: PeerBlock): string[] | undefined {
  const value = block.stringOrList('command');
  const argv = value ? commandArgv(value.value) : undefined;
  if (!argv) block.note('command', 'exec needs a command; no exec block was written');
  return argv;
}

export const CA_PATH_ADVICE = "the sidecar takes one PEM bundle: concatenate the directory's certificates into one file and set ca_cert";
