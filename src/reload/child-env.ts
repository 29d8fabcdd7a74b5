import { isDeniedEnvEntry, matchesEnvPattern } from '../config/env-pattern.js';
import type { ChildEnvPolicy } from '../config/types.js';

/**
 * The supervised child's environment: the sidecar's (unless pristine), narrowed to `allow` when it is set,
 * without anything `deny` matches (the sidecar's credentials always among it) or that points at the pod's
 * service-account token, unless `allow` names that exact variable, plus the rendered env_template values, which win.
 */
export function childEnvironment(
  env: Readonly<Record<string, string | undefined>>,
  policy: ChildEnvPolicy,
  rendered: ReadonlyMap<string, string>,
): Record<string, string> {
  const result: Record<string, string> = {};
  if (!policy.pristine) {
    for (const [name, value] of Object.entries(env)) {
      if (value === undefined) continue;
      if (policy.allow.length > 0 && !matchesEnvPattern(name, policy.allow)) continue;
      if (isDeniedEnvEntry(name, value, policy.allow, policy.deny)) continue;
      result[name] = value;
    }
  }
  for (const [name, value] of rendered) result[name] = value;
  return result;
}
