import path from 'node:path';
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/*
 * The layout table of STYLE.md ("knows nothing of"), as lint rules: a wrong import fails `npm test`.
 * Folders are src/'s top-level folders; `root` is src/*.ts (errors, retry, sealed, timer, …) and src/log/.
 * Only cli imports runner, nothing imports cli. test/static/layering.test.ts lints wrong imports against this.
 */
const ALL = ['cli', 'runner', 'convert', 'template', 'watch', 'lease', 'backends', 'output', 'reload', 'config', 'observe', 'log', 'webhook'];
const above = (...folders) => ['cli', 'runner', 'convert', 'webhook', ...folders];
export const LAYERS = {
  cli: { forbid: [] },
  runner: { forbid: ['cli', 'convert', 'webhook'] },
  // `secrets-sidecar convert`: reads peer configs with the config parser, translates templates for the template
  // language; it renders, fetches and writes nothing of the sidecar's own.
  convert: { forbid: ['cli', 'runner', 'webhook', 'backends', 'watch', 'lease', 'output', 'reload', 'observe'] },
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
  // The admission webhook: a command of its own beside runner. It reads sidecar.hcl through config (the provider
  // registry included) and knows nothing of the sidecar's runtime.
  webhook: { forbid: ['cli', 'runner', 'template', 'watch', 'lease', 'output', 'reload', 'observe'], allowBackends: ['registry.js', 'provider.js'] },
};

const SRC = path.join(import.meta.dirname, 'src');

/**
 * What a relative specifier written in `filename` names inside src/: its top-level folder (`root` for src/*.ts)
 * and the rest of its path. The specifier is resolved, not matched as text, so `./../x`, `../backends/../x` or
 * `../../../src/x` are seen for what they reach. Undefined: a package, or outside src/.
 */
function targetOf(filename, specifier) {
  if (!specifier.startsWith('.')) return undefined;
  const inside = path.relative(SRC, path.resolve(path.dirname(filename), specifier));
  if (inside === '' || inside.startsWith('..') || path.isAbsolute(inside)) return undefined;
  const parts = inside.split(path.sep);
  return parts.length === 1 ? { folder: 'root', rest: parts } : { folder: parts[0], rest: parts.slice(1) };
}

/** Why `folder` may not import `target`, or undefined when it may. */
function violation(folder, target) {
  const { forbid, allowBackends, noProviders } = LAYERS[folder];
  if (target.folder === folder) return undefined;
  const message = `STYLE.md's layout: src/${folder === 'root' ? '*.ts' : `${folder}/`} knows nothing of this (see the "knows nothing of" column)`;
  if (forbid.includes(target.folder)) return message;
  if (target.folder !== 'backends') return undefined;
  if (allowBackends && !(target.rest.length === 1 && allowBackends.includes(target.rest[0]))) return message;
  if (noProviders && target.rest.length > 1) return message;
  return undefined;
}

/** The layout table as one rule over every way a module names another: import, export … from, import(), import('…') types. */
const layeringRule = {
  meta: { type: 'problem', schema: [{ type: 'string' }] },
  create(context) {
    const folder = context.options[0];
    const check = (node, specifier) => {
      const target = targetOf(context.filename, specifier);
      const message = target && violation(folder, target);
      if (message) context.report({ node, message });
    };
    const literal = (node) => {
      if (node?.type === 'Literal' && typeof node.value === 'string') return node.value;
      if (node?.type === 'TemplateLiteral' && node.expressions.length === 0) return node.quasis[0].value.cooked;
      return undefined;
    };
    const fromSource = (node) => node.source && check(node, node.source.value);
    return {
      ImportDeclaration: fromSource,
      ExportNamedDeclaration: fromSource,
      ExportAllDeclaration: fromSource,
      ImportExpression(node) {
        const specifier = literal(node.source);
        // A computed specifier cannot be checked, so it is not allowed: providers load theirs by literal path.
        if (specifier === undefined) context.report({ node, message: "STYLE.md's layout: import() takes a literal path, so that the layering can be checked" });
        else check(node, specifier);
      },
      TSImportType(node) {
        // typescript-eslint 8 names it `source`; `argument` (a TSLiteralType) before.
        const specifier = literal(node.source ?? (node.argument?.type === 'TSLiteralType' ? node.argument.literal : node.argument));
        if (specifier !== undefined) check(node, specifier);
      },
      TSExternalModuleReference(node) {
        const specifier = literal(node.expression);
        if (specifier !== undefined) check(node, specifier);
      },
    };
  },
};

function layerRules(folder, files) {
  const { noDisk } = LAYERS[folder] ?? { noDisk: false };
  const disk = noDisk
    ? ['node:fs', 'node:fs/promises', 'fs', 'fs/promises'].map((name) => ({ name, message: `STYLE.md's layout: src/${folder}/ does no disk I/O` }))
    : [];
  return {
    files,
    plugins: { layering: { rules: { imports: layeringRule } } },
    rules: {
      'layering/imports': ['error', folder],
      ...(disk.length > 0 ? { 'no-restricted-imports': ['error', { paths: disk }] } : {}),
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
