// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Layering (ARCHITECTURE.md): arrows point one way; this is the check, not hope. */
const layer = (files, patterns, message) => ({
  files,
  rules: {
    'no-restricted-imports': ['error', { patterns: patterns.map((group) => ({ group: [group], message })) }],
  },
});
const src = (dir) => [`**/src/${dir}`, `**/src/${dir}/**`];
const protocolLibraries = ['node-opcua', 'node-opcua-*', 'ssh2', 'modbus-serial', 'net-snmp'];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'runs/**', '.tmp/**', 'bin/**', 'docker/**/*.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { ecmaVersion: 2022, sourceType: 'module' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-console': 'error',
      eqeqeq: ['error', 'smart'],
    },
  },
  // One entry per file group (a later entry would replace an earlier rule for the same files).
  layer(['probes/**/*.ts'],
    [...src('runner'), ...src('cli'), ...src('report'), ...src('evidence'), ...src('assess'), ...src('profile'),
      ...src('emulator'), ...src('catalog'), ...src('bench'), ...protocolLibraries],
    'probes import only src/sdk and src/protocols (protocol libraries are used through adapters)'),
  layer(['src/report/**/*.ts'],
    [...src('runner'), ...src('cli'), ...src('protocols'), ...src('emulator'), ...src('profile'), ...src('bench'), '**/probes/**', ...protocolLibraries],
    'reporters are pure functions of the Report'),
  layer(['src/protocols/**/*.ts'],
    [...src('runner'), ...src('cli'), ...src('report'), ...src('assess'), ...src('profile'), ...src('emulator'), ...src('bench'), '**/probes/**'],
    'protocol adapters depend on the SDK and libraries only'),
  layer(['src/sdk/**/*.ts'],
    ['../*', '!./*', ...protocolLibraries],
    'the SDK depends on nothing else in the project'),
  layer(['src/catalog/**/*.ts', 'src/assess/**/*.ts', 'src/evidence/**/*.ts'],
    [...src('runner'), ...src('cli'), ...src('protocols'), ...src('emulator'), ...src('bench'), '**/probes/**', ...protocolLibraries],
    'catalog, assessment and evidence do not talk to devices'),
  layer(['src/emulator/**/*.ts'],
    [...src('runner'), ...src('cli'), ...src('report'), ...src('assess'), ...src('bench'), '**/probes/**'],
    'the emulator is a device, not part of the assessment'),
  layer(['src/runner/**/*.ts', 'src/profile/**/*.ts'],
    [...src('cli'), ...src('bench'), ...src('emulator')],
    'the runner does not depend on the command line, the bench network or the emulator'),
  layer(['src/bench/**/*.ts'],
    [...src('runner'), ...src('report'), ...src('assess'), ...src('protocols'), '**/probes/**', ...protocolLibraries],
    'the bench network wraps emulated devices; it does not assess anything'),
  {
    files: ['src/cli/**/*.ts', 'src/bench/bench-net.ts', 'bench/**/*.ts', 'test/**/*.ts', 'fixtures/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-unused-expressions': 'off' },
  },
);
