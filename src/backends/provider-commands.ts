import type { AnyProvider, ProviderCommandGroup } from './provider.js';
import { PROVIDERS } from './registry.js';

/** The CLI command groups every provider adds, for the CLI to register without naming a provider. */
export function providerCommands(): readonly ProviderCommandGroup[] {
  return (PROVIDERS as readonly AnyProvider[]).flatMap((p) => p.commands ?? []);
}
