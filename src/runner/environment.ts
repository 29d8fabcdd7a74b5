import { matchesEnvPattern } from '../config/env-pattern.js';

/** Only the variables the config allows ever reach the template layer. */
export function allowedEnvironment(env: Readonly<Record<string, string | undefined>>, allow: readonly string[]): Readonly<Record<string, string | undefined>> {
  return Object.freeze(Object.fromEntries(Object.entries(env).filter(([name]) => matchesEnvPattern(name, allow))));
}
