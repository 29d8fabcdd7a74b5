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
