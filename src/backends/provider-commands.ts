import type { AnyProvider, ProviderCommandGroup } from './provider.js';
import { PROVIDERS } from './registry.js';

/** The CLI command groups every provider adds, for the CLI to register without naming a provider. */
export function providerCommands(): readonly ProviderCommandGroup[] {
  return (PROVIDERS as readonly AnyProvider[]).flatMap((p) => p.commands ?? []);
}

/** What the providers read from, for the CLI's description: "Vault/OpenBao, AWS, … and local files". */
export function providerSummary(): string {
  const titles = [...new Set((PROVIDERS as readonly AnyProvider[]).flatMap((p) => (p.title === undefined ? [] : [p.title])))];
  return `${titles.join(', ')} and local files`;
}
