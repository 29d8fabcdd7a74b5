import { Option, type Command } from 'commander';
import type { Writable } from 'node:stream';
import type { PeerKind } from '../convert/peer-config.js';
import { SidecarError } from '../errors.js';

const PEERS: readonly PeerKind[] = ['consul-template', 'vault-agent'];

interface ConvertFlags {
  from: PeerKind;
  out?: string;
  check: boolean;
}

/**
 * `convert --from consul-template|vault-agent CONFIG.hcl --out DIR [--check]`: the report goes to stdout, one
 * `file:line:col: construct: what to do instead` per line, then a summary. Not everything translated: exit 8.
 */
export function addConvertCommand(program: Command, io: { stdout: Writable; cwd: string }, onError: (error: unknown) => void): void {
  program
    .command('convert')
    .description('convert a consul-template or Vault Agent config and its Go templates into sidecar.hcl and Handlebars templates')
    .argument('<config>', "the peer's config file (HCL)")
    .addOption(new Option('--from <tool>', 'the tool the config is written for').choices(PEERS).makeOptionMandatory())
    .option('--out <dir>', 'a new or empty directory for sidecar.hcl, templates/ and conversion-report.txt')
    .option('--check', 'only report what would not be translated; write nothing', false)
    .action(async (config: string, flags: ConvertFlags) => {
      try {
        if (!flags.check && !flags.out) throw new SidecarError('SIDECAR_ERR_USAGE', 'convert needs --out DIR (or --check to only report)');
        // Loaded only for this command: `once` and `run` never parse Go templates (see program.ts on what loads when).
        const [{ convertPeerConfig }, { translateGoTemplate }] = await Promise.all([
          import('../convert/convert-peer-config.js'),
          import('../convert/go-template/translate.js'),
        ]);
        const result = await convertPeerConfig({
          from: flags.from,
          configFile: config,
          outDir: flags.out ?? '',
          check: flags.check,
          cwd: io.cwd,
          translate: translateGoTemplate,
        });
        io.stdout.write(result.report);
        const where = flags.check ? 'nothing written (--check)' : `wrote ${flags.out ?? ''}`;
        io.stdout.write(
          `${result.templates} templates, ${result.cleanTemplates} converted without a report line; ${result.findings.length} report lines; ${where}\n`,
        );
        if (result.findings.length > 0) {
          throw new SidecarError(
            'SIDECAR_ERR_CONVERT_INCOMPLETE',
            `${result.findings.length} constructs were not translated; the report lists each with what to do instead`,
            { hint: flags.check ? 'convert without --check writes what did translate' : 'conversion-report.txt in the output directory keeps the report' },
          );
        }
      } catch (error) {
        onError(error);
      }
    });
}
