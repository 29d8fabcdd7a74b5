/** Whether a variable name matches any of the patterns: exact names, or prefixes ending in "*". */
export function matchesEnvPattern(name: string, patterns: readonly string[]): boolean {
  return patterns.some((entry) => (entry.endsWith('*') ? name.startsWith(entry.slice(0, -1)) : name === entry));
}

/**
 * Whether the deny list holds a variable back from an allow list: a broad allow prefix ("V*", "*") must not let a
 * credential through; only its exact name in `allow` does, as a deliberate choice.
 */
export function isDeniedEnv(name: string, allow: readonly string[], deny: readonly string[]): boolean {
  return matchesEnvPattern(name, deny) && !allow.includes(name);
}

/**
 * Whether a variable's value points at the pod's service-account token (its directory, the token, or a path under
 * it, by either spelling of /var/run): the credential a rollout target (and Kubernetes auth) patches with. Such a
 * pointer is held back like a credential's name: only its exact name in an allow list lets it through.
 */
export function pointsAtServiceAccount(value: string): boolean {
  return /(^|[=:,\s])(\/var)?\/run\/secrets\/kubernetes\.io\/serviceaccount(\/|$|[:,\s])/.test(value);
}

/** isDeniedEnv, with the value as well: a pointer at the service-account token is denied whatever its name. */
export function isDeniedEnvEntry(name: string, value: string, allow: readonly string[], deny: readonly string[]): boolean {
  return isDeniedEnv(name, allow, deny) || (pointsAtServiceAccount(value) && !allow.includes(name));
}
