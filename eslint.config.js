import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/*
 * The layout table of STYLE.md ("knows nothing of"), as lint rules: a wrong import fails `npm test`.
 * Folders are src/'s top-level folders; `root` is src/*.ts (errors, retry, sealed, timer, …) and src/log/.
 * Only cli imports runner, nothing imports cli. test/static/layering.test.ts lints wrong imports against this.
 */
const ALL = ['cli', 'runner', 'template', 'watch', 'lease', 'backends', 'output', 'reload', 'config', 'observe', 'log'];
const above = (...folders) => ['cli', 'runner', ...folders];
export const LAYERS = {
  cli: { forbid: [] },
  runner: { forbid: ['cli'] },
  template: { forbid: above('backends', 'output', 'reload', 'watch', 'observe'), noDisk: true },
  watch: { forbid: above('template', 'output', 'reload', 'observe'), noDisk: true },
  lease: { forbid: ALL.filter((f) => !['lease', 'config', 'log'].includes(f)) },
  backends: { forbid: above('template', 'output', 'reload', 'watch', 'observe') },
  output: { forbid: above('template', 'backends', 'watch', 'reload', 'observe', 'lease') },
  reload: { forbid: above('template', 'backends', 'watch', 'output', 'observe', 'lease') },
  // The registry is how the config learns the providers' schemas; nothing else of backends.
  config: { forbid: above('template', 'watch', 'lease', 'output', 'reload', 'observe'), allowBackends: ['registry.js', 'provider.js'] },
  // Backends by name: the shared interface (backends/types.js) is fine, a provider's folder is not.
  observe: { forbid: above('template'), noProviders: true },
  log: { forbid: ALL.filter((f) => f !== 'log') },
};

const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The import specifiers a folder may not use, as regular expression sources (relative specifiers only). */
function forbiddenSpecifiers(folder) {
  const { forbid, allowBackends, noProviders } = LAYERS[folder];
  const up = folder === 'root' ? '\\./' : '(\\.\\./)+';
  const sources = forbid.map((target) => `^${up}${target}/`);
  if (allowBackends) sources.push(`^${up}backends/(?!(${allowBackends.map(escape).join('|')})$)`);
  if (noProviders) sources.push(`^${up}backends/[^/]+/`);
  return sources;
}

function layerRules(folder, files) {
  const { noDisk } = LAYERS[folder] ?? { noDisk: false };
  const sources = forbiddenSpecifiers(folder);
  const message = `STYLE.md's layout: src/${folder === 'root' ? '*.ts' : `${folder}/`} knows nothing of this (see the "knows nothing of" column)`;
  const disk = noDisk
    ? ['node:fs', 'node:fs/promises', 'fs', 'fs/promises'].map((name) => ({ name, message: `STYLE.md's layout: src/${folder}/ does no disk I/O` }))
    : [];
  return {
    files,
    rules: {
      'no-restricted-imports': ['error', { paths: disk, patterns: sources.map((regex) => ({ regex, message })) }],
      // import() too: no-restricted-imports sees static imports only. esquery regexes cannot hold "/", hence \x2F.
      'no-restricted-syntax': [
        'error',
        ...sources.map((regex) => ({ selector: `ImportExpression[source.value=/${regex.replaceAll('/', '\\x2F')}/]`, message })),
      ],
    },
  };
}

LAYERS.root = LAYERS.log;
const layering = [...ALL.map((folder) => layerRules(folder, [`src/${folder}/**/*.ts`])), layerRules('root', ['src/*.ts'])];

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.cache/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      'no-console': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { ...tseslint.configs.disableTypeChecked.languageOptions, globals: globals.node },
  },
  ...layering,
  {
    files: ['bench/**', 'test/**', 'examples/**'],
    rules: { 'no-console': 'off' },
  },
);
