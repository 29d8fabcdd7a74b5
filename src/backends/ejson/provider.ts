import { z } from 'zod';
import { pathOption, pollInterval } from '../../config/schema-fragments.js';
import { defineProvider } from '../provider.js';

export interface EjsonBackendConfig {
  readonly type: 'ejson';
  readonly name: string;
  readonly path: string;
  /** undefined: EJSON_KEYDIR, then /opt/ejson/keys. */
  readonly keyDir: string | undefined;
  /** The private key's file, instead of looking it up by public key in keyDir. */
  readonly keyFile: string | undefined;
  /** undefined: inotify; set for filesystems without it. */
  readonly pollIntervalMs: number | undefined;
}

/** `backend "ejson" "name" { path = … }`: a Shopify ejson file, decrypted with a key from the key directory. */
export const ejsonProvider = defineProvider({
  type: 'ejson',
  schema: z.strictObject({
    path: pathOption(),
    key_dir: pathOption().optional(),
    key_file: pathOption().optional(),
    poll_interval: pollInterval().optional(),
  }),
  resolve(block, { name, path, invalid }): EjsonBackendConfig {
    if (block.key_dir !== undefined && block.key_file !== undefined) throw invalid(['key_file'], 'set key_dir or key_file, not both');
    return Object.freeze({
      type: 'ejson',
      name,
      path: path(block.path),
      keyDir: path(block.key_dir),
      keyFile: path(block.key_file),
      pollIntervalMs: block.poll_interval,
    });
  },
  async open(config, deps) {
    const { EjsonBackend } = await import('./ejson-backend.js');
    return new EjsonBackend(config, deps.env, deps.logger.child({ backend: config.name }));
  },
  bundleExternal: [],
  // Shopify ejson's own commands, so that keeping secrets encrypted in a repository needs no second binary.
  commands: [
    {
      name: 'ejson',
      description: 'keys and encryption for the ejson backend (compatible with Shopify ejson)',
      commands: [
        {
          name: 'keygen',
          description: 'make a keypair; prints both keys, or with --write stores the private key and prints the public one',
          options: [
            { flags: '-w, --write', description: 'write the private key to a file named by the public key in the key directory', defaultValue: false },
            { flags: '--keydir <dir>', description: 'the key directory (default: EJSON_KEYDIR, else /opt/ejson/keys)' },
          ],
          async run(_args, options, io) {
            const { DEFAULT_KEY_DIR } = await import('./ejson-keys.js');
            const { keygen } = await import('./ejson-tools.js');
            const keyDir = typeof options['keydir'] === 'string' ? options['keydir'] : (io.env['EJSON_KEYDIR'] ?? DEFAULT_KEY_DIR);
            io.stdout.write(await keygen(options['write'] === true ? keyDir : undefined));
          },
        },
        {
          name: 'encrypt',
          description: 'encrypt every plain value of each file in place (encrypted values and "_" keys are left alone)',
          argument: { spec: '<files...>', description: 'ejson files' },
          async run(files, _options, io) {
            const { encryptFile } = await import('./ejson-tools.js');
            for (const file of files) {
              const { encrypted, bytes } = await encryptFile(file, io.writeFile);
              io.stdout.write(`Wrote ${bytes} bytes to ${file} (${encrypted} values encrypted).\n`);
            }
          },
        },
      ],
    },
  ],
});
