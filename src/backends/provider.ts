import type { z } from 'zod';
import type { RetryPolicy } from '../config/types.js';
import type { SidecarError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { SecretBackend } from './types.js';

/*
 * A provider is one folder under src/backends/ that exports one descriptor (its provider.ts); registry.ts lists
 * them. The config schema, the resolved-config union, the factory, the bundle's externals and the provider's CLI
 * commands are all built from that list, so nothing outside src/backends/ and src/config/ names a provider.
 */

/** What every resolved backend config has; each provider adds its own frozen fields. */
export interface BackendConfigBase<T extends string = string> {
  readonly type: T;
  readonly name: string;
}

/** What a provider's resolver is handed for one `backend "<type>" "<name>" {}` block. */
export interface ResolveContext {
  readonly name: string;
  /** The config file's directory: relative paths in the block are relative to it. */
  readonly base: string;
  /** An absolute path for a path option; undefined stays undefined. */
  readonly path: { (value: string): string; (value: string | undefined): string | undefined };
  /** A config error located at an option inside this block (`[]`: the block itself), with file:line:col. */
  readonly invalid: (at: readonly (string | number)[], message: string) => SidecarError;
}

/** What the whole config knows once every block is resolved, for the hooks that need it. */
export interface ConfigFacts {
  /** How long the app may take to switch to a new secret: the longest quiescence wait plus notify timeout. */
  readonly appSwitchAllowanceMs: number;
  /** The directories templates write to (absolute): what the application's container sees. */
  readonly destinationDirectories: readonly string[];
  /** A config error located at an option of the block being completed. */
  readonly invalid: (at: readonly (string | number)[], message: string) => SidecarError;
}

/**
 * Writes a file atomically, as outputs are written (tmpfs unless allowed otherwise). The runner and the CLI pass
 * output's writer in: a backend knows nothing of output.
 */
export type AtomicFileWriter = (
  destination: string,
  contents: string,
  options: {
    readonly perms: number;
    readonly createDirs: boolean;
    readonly allowNonTmpfs: boolean;
    /** Set to keep a rewritten file's owner (the temp file is the writer's own otherwise). */
    readonly uid?: number | undefined;
    readonly gid?: number | undefined;
  },
) => Promise<void>;

export interface BackendDependencies {
  readonly logger: Logger;
  /** The sidecar's environment, for the variables providers honour (VAULT_ADDR, VAULT_TOKEN, …). */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly retry: RetryPolicy;
  /** `run` (true): keep tokens and leases alive. `once` (false): fetch and be done, no background work. */
  readonly live: boolean;
  /** For what a backend keeps on disk between runs (Vault's cache). */
  readonly writeFile: AtomicFileWriter;
  /**
   * Whether to take over what an earlier run left in the backend's cache (a token, leases, certificates): at start
   * of `once` and `run`, not when a SIGHUP reload rebuilds a backend.
   */
  readonly adopt?: boolean | undefined;
  /** The implicit, certificates-only cache of a backend without cache_dir: a private directory beside the outputs. */
  readonly certificateCacheDir?: string | undefined;
  /** false: keep nothing between runs and read nothing kept (`once --dry-run` writes nothing). Default true. */
  readonly keep?: boolean | undefined;
}

/** Where a provider command writes and what it may read; the CLI passes its own. */
export interface CommandIo {
  readonly stdout: { write(text: string): unknown };
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly writeFile: AtomicFileWriter;
}

/** One subcommand a provider adds to the CLI (`<group> <name> [args] [options]`), described without commander. */
export interface ProviderCommand {
  readonly name: string;
  readonly description: string;
  /** commander-style option flags ("-w, --write", "--keydir <dir>") and their help. */
  readonly options?: readonly { readonly flags: string; readonly description: string; readonly defaultValue?: unknown }[];
  /** One variadic positional argument, if any ("<files...>"). */
  readonly argument?: { readonly spec: string; readonly description: string };
  run(args: readonly string[], options: Readonly<Record<string, unknown>>, io: CommandIo): Promise<void>;
}

/** A command group named after the provider (`ejson keygen|encrypt`). */
export interface ProviderCommandGroup {
  readonly name: string;
  readonly description: string;
  readonly commands: readonly ProviderCommand[];
}

export interface ProviderDescriptor<T extends string, S extends z.ZodType, C extends BackendConfigBase<T>> {
  /** The block's type label: `backend "<type>" "<name>" {}`. */
  readonly type: T;
  /** The store's name for the CLI's description ("Vault/OpenBao"); none for the local-file providers. */
  readonly title?: string;
  /** The block's options; strict, so that a misspelt key is an error. */
  readonly schema: S;
  /** The parsed block → the frozen, typed config; checks across options throw `context.invalid(…)`. */
  resolve(block: z.output<S>, context: ResolveContext): C;
  /** Defaults that depend on the rest of the config (Vault's rotation margin), applied once all is resolved. */
  complete?(config: C, facts: ConfigFacts): C;
  /** Builds the backend; imports its implementation on first use, so an unused SDK is never loaded. */
  open(config: C, deps: BackendDependencies): Promise<SecretBackend>;
  /** Packages the bundle leaves in node_modules (big, optional, or finding their own files by path). */
  readonly bundleExternal: readonly string[];
  /** CLI commands the provider adds. */
  readonly commands?: readonly ProviderCommandGroup[];
}

/** Freezes a descriptor and keeps its exact types, so the registry can derive the config union from it. */
export function defineProvider<T extends string, S extends z.ZodType, C extends BackendConfigBase<T>>(
  descriptor: ProviderDescriptor<T, S, C>,
): ProviderDescriptor<T, S, C> {
  return Object.freeze(descriptor);
}

/** Any descriptor, as code that handles them all (the schema, the resolver, the factory) sees it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the config type is invariant (resolve returns it, open takes it)
export type AnyProvider = ProviderDescriptor<string, z.ZodType, any>;

/** The resolved config a descriptor produces. */
export type ProviderConfig<P> = P extends ProviderDescriptor<string, z.ZodType, infer C> ? C : never;
