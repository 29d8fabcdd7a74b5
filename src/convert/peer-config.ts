import type { Position } from '../config/located.js';
import type { ConversionFinding } from './conversion-finding.js';

/*
 * What the converter understood of a consul-template or Vault Agent config, in terms of our own config: the
 * readers fill it, the writer turns it into sidecar.hcl. Paths are absolute (resolved as the peer resolves them).
 */

export type PeerKind = 'consul-template' | 'vault-agent';

export type PeerAuth =
  | { readonly method: 'token'; readonly tokenFile: string }
  | { readonly method: 'approle'; readonly mount: string; readonly roleIdFile: string; readonly secretIdFile: string | undefined }
  | { readonly method: 'jwt'; readonly mount: string; readonly role: string; readonly jwtFile: string }
  | { readonly method: 'kubernetes'; readonly mount: string; readonly role: string; readonly jwtFile: string | undefined };

export interface PeerVault {
  readonly address?: string | undefined;
  readonly namespace?: string | undefined;
  readonly caCert?: string | undefined;
  readonly clientCert?: string | undefined;
  readonly clientKey?: string | undefined;
  readonly tlsServerName?: string | undefined;
  readonly tlsSkipVerify?: boolean | undefined;
  readonly auth?: PeerAuth | undefined;
  readonly leaseRenewalThreshold?: number | undefined;
  readonly maxConnections?: number | undefined;
  readonly staticRefreshInterval?: string | undefined;
}

export interface PeerWait {
  readonly min?: string | undefined;
  readonly max?: string | undefined;
}

/** Where inline contents start: a heredoc's text on the line after `pos`, a quoted string's right after `pos`. */
export interface InlineOffset extends Position {
  readonly heredoc: boolean;
}

/** A Go template to translate: a file (read as the peer reads it) or inline contents. */
export interface PeerTemplateText {
  /** Where the Go text is, for the report: the source file, or the config file with `line` the contents' line. */
  readonly file: string;
  readonly text: string;
  /** For inline contents: where they start in the config, so template positions point into the config. */
  readonly offset: InlineOffset | undefined;
  /** Permission bits of the file the text came from (the source, or the config): the converted file's limit. */
  readonly mode: number;
  /** A name for the translated file (the source's or the destination's base name). */
  readonly nameHint: string;
  /** `left_delimiter` / `right_delimiter`, when not `{{` `}}`. */
  readonly leftDelimiter?: string | undefined;
  readonly rightDelimiter?: string | undefined;
}

export interface PeerTemplate {
  readonly pos: Position;
  readonly go: PeerTemplateText;
  readonly destination: string;
  readonly perms?: string | undefined;
  readonly user?: string | number | undefined;
  readonly group?: string | number | undefined;
  readonly createDestDirs?: boolean | undefined;
  readonly errorOnMissingKey: boolean;
  /** A command to run after each change, as argv (a peer's single string runs in `sh -c`). */
  readonly command?: readonly string[] | undefined;
  readonly commandTimeout?: string | undefined;
  readonly wait?: PeerWait | undefined;
  /** Whether a change of this file signals or restarts the supervised child (consul-template's exec does). */
  readonly notifiesExec: boolean;
  /** How many report lines its block in the config gave (options not converted). */
  readonly configFindings: number;
}

export interface PeerEnvTemplate {
  readonly name: string;
  readonly go: PeerTemplateText;
  readonly errorOnMissingKey: boolean;
}

export interface PeerExec {
  readonly command: readonly string[];
  readonly reloadSignal?: string | undefined;
  readonly killSignal?: string | undefined;
  readonly killTimeout?: string | undefined;
  readonly splay?: string | undefined;
  readonly env?:
    { readonly pristine?: boolean | undefined; readonly allow?: readonly string[] | undefined; readonly deny?: readonly string[] | undefined } | undefined;
}

export interface PeerRetry {
  readonly attempts?: number | undefined;
  readonly backoff?: string | undefined;
  readonly maxBackoff?: string | undefined;
}

export interface PeerConfig {
  readonly kind: PeerKind;
  readonly file: string;
  /** The config file's permission bits: sidecar.hcl and the report never exceed them. */
  readonly mode: number;
  readonly logLevel?: string | undefined;
  readonly pidFile?: string | undefined;
  readonly vault: PeerVault | undefined;
  readonly retry?: PeerRetry | undefined;
  readonly wait?: PeerWait | undefined;
  readonly exec?: PeerExec | undefined;
  readonly templates: readonly PeerTemplate[];
  readonly envTemplates: readonly PeerEnvTemplate[];
  /** What the config holds that was not translated. */
  readonly report: readonly ConversionFinding[];
}
