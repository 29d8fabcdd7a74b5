import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

/*
 * The suite-wide leak canary. Every secret a test hands to the sidecar is registered here (expectNoSecrets
 * registers what it checks; canary() makes fresh ones), and everything the sidecar shows the world is recorded:
 * each CLI run's stdout and stderr, each daemon's argv and title (/proc/<pid>/cmdline), every answer of its
 * listener (metrics labels, readiness reasons, refresh answers), its audit file (the `path` of every access), and
 * each supervised child's environment, where the sidecar's own credentials must not be. After each
 * test file, canary-setup.ts looks for every registered secret in every record of that file, so a leak is caught
 * even by a test that forgot to look for it.
 */
const secrets = new Set<string>();
const records: { readonly where: string; readonly text: string }[] = [];

/** Values shorter than this are too likely to occur by chance (a port, "app") to prove a leak. */
const MIN_LENGTH = 8;

export function registerSecrets(values: Iterable<string>): void {
  for (const value of values) if (value.length >= MIN_LENGTH) secrets.add(value);
}

/** A fresh secret value, registered, that nothing but a leak could put anywhere. */
export function canary(label: string): string {
  const value = `canary-${label}-${randomBytes(8).toString('hex')}`;
  secrets.add(value);
  return value;
}

/** Something the sidecar showed: output it wrote, its command line, a page it served. */
export function recordShown(where: string, text: string): void {
  if (text) records.push({ where, text });
}

/** The command line and title a process shows to `ps` (argv joined by spaces). */
export function recordCommandLine(pid: number | undefined, where: string): void {
  if (pid === undefined) return;
  try {
    recordShown(`${where} /proc/${pid}/cmdline`, readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' '));
  } catch {
    // Gone already: nothing to see.
  }
}

/**
 * A supervised child's environment, without the variables the config puts there on purpose (env_template names,
 * and names its exec block's env.allow passes through): any registered secret in the rest is a leak.
 */
export function recordChildEnvironment(pid: number, configText: string): void {
  const configured = new Set([...configText.matchAll(/env_template\s+"([A-Za-z_][A-Za-z0-9_]*)"/g)].map((m) => m[1]));
  for (const list of configText.matchAll(/allow\s*=\s*\[([^\]]*)\]/g)) for (const name of (list[1] ?? '').matchAll(/"([^"]+)"/g)) configured.add(name[1]);
  try {
    const variables = readFileSync(`/proc/${pid}/environ`, 'utf8')
      .split('\0')
      .filter((entry) => !configured.has(entry.slice(0, entry.indexOf('='))));
    recordShown(`the supervised child's environment (/proc/${pid}/environ)`, variables.join('\n'));
  } catch {
    // Gone already.
  }
}

/** The variables the sidecar itself reads credentials from: never for the child unless env.allow names them. */
const CREDENTIAL_VARIABLES = [
  'VAULT_TOKEN',
  'VAULT_CLIENT_KEY',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AZURE_CLIENT_SECRET',
  'AZURE_CLIENT_CERTIFICATE_PASSWORD',
  'EJSON_PRIVATE_KEY',
];

/**
 * Registers the sidecar's own credentials from the environment it is started with: the well-known variables,
 * and the one the config's `refresh_token_env` names. Any of them in a child's environment (beyond a name its
 * env.allow lists on purpose), a log line or an HTTP answer is a leak.
 */
export function registerSidecarCredentials(env: Readonly<Record<string, string | undefined>>, configText: string): void {
  const names = new Set(CREDENTIAL_VARIABLES);
  for (const match of configText.matchAll(/"?refresh_token_env"?\s*[=:]\s*"([A-Za-z_][A-Za-z0-9_]*)"/g)) if (match[1]) names.add(match[1]);
  registerSecrets([...names].map((name) => env[name] ?? '').filter(Boolean));
}

/** The audit file a config names (`audit { path = "…" }`), as the sidecar left it. */
export function recordAuditFile(configText: string): void {
  for (const match of configText.matchAll(/audit\s*\{[^}]*?\bpath\s*=\s*"([^"]+)"/g)) {
    try {
      recordShown(`the audit file ${match[1] ?? ''}`, readFileSync(match[1] ?? '', 'utf8'));
    } catch {
      // Never written: nothing to see.
    }
  }
}

export interface Leak {
  readonly where: string;
  readonly secretLength: number;
}

/** Every registered secret found in every record so far (the secret itself is never printed). */
export function findLeaks(): Leak[] {
  const leaks: Leak[] = [];
  for (const record of records) {
    for (const secret of secrets) if (record.text.includes(secret)) leaks.push({ where: record.where, secretLength: secret.length });
  }
  return leaks;
}

export function counts(): { readonly secrets: number; readonly records: number } {
  return { secrets: secrets.size, records: records.length };
}

export function resetCanary(): void {
  secrets.clear();
  records.length = 0;
}

/** Throws, loudly, if any secret leaked; then starts afresh. */
export function assertNoLeaks(scope: string): void {
  const leaks = findLeaks();
  const seen = counts();
  resetCanary();
  if (leaks.length > 0) {
    throw new Error(
      `LEAK CANARY (${scope}): ${leaks.length} secret value(s) found where the world can see them:\n${leaks.map((l) => `  - a ${l.secretLength}-character secret in ${l.where}`).join('\n')}\n(${seen.secrets} secrets checked against ${seen.records} records)`,
    );
  }
}
