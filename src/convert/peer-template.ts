import { basename } from 'node:path';
import { DURATION_BOUNDS } from '../config/duration.js';
import type { PeerBlock } from './peer-block.js';
import type { PeerTemplate, PeerTemplateText } from './peer-config.js';
import { commandArgv, durationOption, peerPath, waitOption } from './peer-options.js';
import { readTemplateSource } from './peer-hcl.js';

/** What to do instead, for the template options both peers have and the sidecar does not. */
const TEMPLATE_INSTEAD: Readonly<Record<string, string>> = {
  backup: 'the sidecar writes atomically (a temp file renamed into place) and keeps no .bak copy; drop it',
  function_denylist: "the sidecar's template language has no function that reads files, runs commands or reaches Consul; drop it",
  function_blacklist: "the sidecar's template language has no function that reads files, runs commands or reaches Consul; drop it",
  sandbox_path: "the sidecar's templates cannot read files, so there is nothing to sandbox; drop it",
  error_fatal: 'a template that fails to render ends `once` with exit 4 and is retried by `run`; drop it',
  source_path: 'not an option of template; not converted',
};

export interface TemplateDefaults {
  /** Directory relative paths resolve against (the peer's working directory). */
  readonly base: string;
  /** consul-template's exec is reloaded by every template change; Vault Agent's is not. */
  readonly notifiesExec: boolean;
  /** consul-template's `default_delimiters`. */
  readonly leftDelimiter?: string | undefined;
  readonly rightDelimiter?: string | undefined;
}

/** A `template {}` block of either peer; the Go text is read now, so that a missing source fails before writing. */
export async function readTemplateBlock(block: PeerBlock, defaults: TemplateDefaults): Promise<PeerTemplate> {
  const findingsBefore = block.peer.report.length;
  const delimiters = {
    leftDelimiter: block.string('left_delimiter') ?? defaults.leftDelimiter,
    rightDelimiter: block.string('right_delimiter') ?? defaults.rightDelimiter,
  };
  const source = block.string('source');
  const contents = block.string('contents');
  const destination = block.string('destination');
  if (source !== undefined && contents !== undefined) {
    throw block.invalid(block.take('contents') ?? { keyPos: block.pos, node: block.node }, 'contents', 'give "source" or "contents", not both');
  }
  if (destination === undefined || destination === '') {
    throw block.invalid({ keyPos: block.pos, node: block.node }, 'destination', 'required option "destination" is missing');
  }
  const destinationPath = peerPath(defaults.base, destination);
  let go: PeerTemplateText;
  if (source !== undefined) {
    const path = peerPath(defaults.base, source);
    go = {
      file: path,
      ...(await readTemplateSource(path, block.peer, block.keyPos('source'))),
      offset: undefined,
      nameHint: basename(path),
      ...delimiters,
    };
  } else if (contents !== undefined) {
    go = {
      file: block.peer.file,
      text: contents,
      mode: block.peer.mode,
      offset: block.valueOffset('contents'),
      nameHint: basename(destinationPath),
      ...delimiters,
    };
  } else {
    throw block.invalid({ keyPos: block.pos, node: block.node }, 'source', 'give "source" or "contents"');
  }

  const perms = permsOption(block);
  const { user, group } = ownerOptions(block);
  const createDestDirs = block.bool('create_dest_dirs');
  const errorOnMissingKey = block.bool('error_on_missing_key') ?? false;
  const wait = waitOption(block);
  let commandTimeout = durationOption(block, 'command_timeout', DURATION_BOUNDS.commandTimeout);
  let command = commandOption(block, 'command');
  const exec = block.block('exec');
  if (exec) {
    const execCommand = commandOption(exec, 'command');
    if (execCommand && command) block.note('exec', 'a template takes "command" or "exec", not both: only "command" is converted');
    command ??= execCommand;
    commandTimeout = durationOption(exec, 'timeout', DURATION_BOUNDS.commandTimeout) ?? commandTimeout;
    exec.bool('enabled');
    exec.reportRest(() => "not an option of a template's exec; not converted");
  }
  block.reportRest((key) => TEMPLATE_INSTEAD[key] ?? 'not an option the peers know; not converted');
  return {
    pos: block.pos,
    go,
    destination: destinationPath,
    perms,
    user,
    group,
    createDestDirs,
    errorOnMissingKey,
    command,
    commandTimeout,
    wait,
    notifiesExec: defaults.notifiesExec,
    configFindings: block.peer.report.length - findingsBefore,
  };
}

function commandOption(block: PeerBlock, key: string): string[] | undefined {
  const value = block.stringOrList(key);
  if (!value) return undefined;
  const argv = commandArgv(value.value);
  if (!argv) block.note(key, 'an empty command runs nothing; dropped');
  return argv;
}

/**
 * `perms = 0600` is octal to HCL 1 (which the peers parse with), and `perms = "0600"` is read as octal by
 * their decoder: both become "0600". Anything else is reported rather than guessed.
 */
function permsOption(block: PeerBlock): string | undefined {
  const text = block.numberText('perms');
  if (text === undefined) return undefined;
  const quoted = typeof (block.node.entries.get('perms')?.node as { value?: unknown }).value === 'string';
  if (quoted ? /^0?[0-7]{3}$/.test(text) : /^0[0-7]{3}$/.test(text)) return text.padStart(4, '0');
  block.note('perms', 'not converted: write the mode as an octal string such as "0640" in sidecar.hcl (default "0600")');
  return undefined;
}

function ownerOptions(block: PeerBlock): { user: string | number | undefined; group: string | number | undefined } {
  const pick = (nameKey: string, idKey: string): string | number | undefined => {
    const name = block.string(nameKey);
    const id = block.numberText(idKey);
    if (name !== undefined) {
      if (id !== undefined) block.note(idKey, `"${nameKey}" is converted; "${idKey}" is not (the sidecar takes one of the two)`);
      return name;
    }
    if (id === undefined) return undefined;
    if (/^\d+$/.test(id)) return Number(id);
    block.note(idKey, 'not converted: expected a numeric id');
    return undefined;
  };
  return { user: pick('user', 'uid'), group: pick('group', 'gid') };
}
