import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';

// Layering (docs/architecture.md, "Architecture"): src/domain is pure and imports neither the
// projections nor the stores, services or HTTP; projections/ imports only src/domain (and each
// other); no import cycles anywhere (type-only imports do not count: they vanish at runtime).
const outsideDomain = [
  '**/src/stores/**',
  '**/src/services/**',
  '**/src/http/**',
  '**/src/projector/**',
  '**/src/retention/**',
  '**/src/jobs/**',
  '**/src/web/**',
  '**/src/admin/**',
  '**/src/feeds/**',
  '**/src/auth/**',
  '**/src/runtime.js',
  '**/src/service.js',
  '**/src/config.js',
  '**/src/logger.js',
  '**/src/metrics.js',
  '**/src/main.js',
];

export default tseslint.config(
  { ignores: ['node_modules/', 'data/', 'bench/tmp/', '.scratch/', '.scratch-ops/', 'test/gpodder/**/*.py'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: false } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-namespace': 'off',
      'no-control-regex': 'off',
    },
  },
  {
    files: ['src/**/*.ts', 'projections/**/*.ts', 'scripts/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      // Sources import `./x.js` for `./x.ts` (ESM under tsx).
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js', '.json'], extensionAlias: { '.js': ['.ts', '.js'] } })],
    },
    rules: {
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
    },
  },
  {
    files: ['src/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/projections/**', ...outsideDomain], message: 'src/domain is pure: it imports only src/domain (docs/architecture.md).' }] },
      ],
    },
  },
  {
    files: ['projections/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: outsideDomain, message: 'projections/ import only src/domain (docs/architecture.md).' }] }],
    },
  },
);
