import { isDeniedEnvEntry, matchesEnvPattern, pointsAtServiceAccount } from '../config/env-pattern.js';

type Environment = Readonly<Record<string, string | undefined>>;

/**
 * Only the variables the config allows ever reach the template layer, and none of the sidecar's credentials
 * (`deny`) unless env_allow names that exact variable.
 */
export function allowedEnvironment(env: Environment, allow: readonly string[], deny: readonly string[]): Environment {
  return Object.freeze(
    Object.fromEntries(Object.entries(env).filter(([name, value]) => matchesEnvPattern(name, allow) && !isDeniedEnvEntry(name, value ?? '', allow, deny))),
  );
}

/** The environment handed to anything the sidecar runs besides the supervised child (command hooks). */
export function withoutCredentials(env: Environment, deny: readonly string[]): Environment {
  return Object.freeze(
    Object.fromEntries(Object.entries(env).filter(([name, value]) => !matchesEnvPattern(name, deny) && !pointsAtServiceAccount(value ?? ''))),
  );
}
