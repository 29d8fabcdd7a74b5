/** Whether a variable name matches any of the patterns: exact names, or prefixes ending in "*". */
export function matchesEnvPattern(name: string, patterns: readonly string[]): boolean {
  return patterns.some((entry) => (entry.endsWith('*') ? name.startsWith(entry.slice(0, -1)) : name === entry));
}
