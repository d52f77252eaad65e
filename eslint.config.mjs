// @ts-check
import js from '@eslint/js';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import tseslint from 'typescript-eslint';

/**
 * Layering (ARCHITECTURE.md): arrows point one way; this is the check, not hope. Each layer lists the layers
 * it may import (itself always); every relative import is resolved to the file it names, so `../runner/run`
 * from src/report is caught as surely as `../../src/runner/run` from probes/.
 */
const LAYERS = {
  probes: { may: ['src/sdk', 'src/protocols'], why: 'probes import only src/sdk and src/protocols (protocol libraries are used through adapters)' },
  'src/sdk': { may: [], why: 'the SDK depends on nothing else in the project' },
  'src/protocols': { may: ['src/sdk', 'src/paths'], why: 'protocol adapters depend on the SDK and libraries only' },
  'src/catalog': { may: ['src/sdk', 'src/paths'], why: 'the catalog is data' },
  'src/profile': { may: ['src/sdk', 'src/paths'], why: 'the profile loader reads files, it does not run anything' },
  'src/report': { may: ['src/sdk'], why: 'reporters are pure functions of the Report' },
  'src/evidence': { may: ['src/sdk', 'src/paths'], why: 'the evidence store does not talk to devices' },
  'src/assess': { may: ['src/sdk', 'src/catalog', 'src/report', 'src/profile'], why: 'the assessment judges a report; it does not talk to devices' },
  'src/emulator': { may: ['src/sdk', 'src/protocols', 'src/paths'], why: 'the emulator is a device, not part of the assessment' },
  'src/labnet': { may: ['src/sdk', 'src/emulator', 'src/protocols', 'src/paths'], why: 'the labnet (network namespaces) wraps emulated devices; it does not assess anything' },
  'src/runner': {
    may: ['src/sdk', 'src/protocols', 'src/catalog', 'src/profile', 'src/report', 'src/evidence', 'src/assess', 'src/paths'],
    why: 'the runner does not depend on the command line, the labnet or the emulator',
  },
  'src/cli': { may: ['*'], why: '' },
};
/** Protocol libraries are used through adapters (src/protocols) and by the emulated devices only. */
const PROTOCOL_LIBRARY = /^(node-opcua(-[\w-]+)?|ssh2|modbus-serial|net-snmp)(\/|$)/;
const MAY_USE_PROTOCOL_LIBRARIES = new Set(['src/protocols', 'src/emulator']);

const ROOT = path.dirname(fileURLToPath(import.meta.url));

/** The layer of a file of this repository: "probes", "src/<dir>", "src/paths", or undefined (tests, bench, ...). */
function layerOf(file) {
  const rel = path.relative(ROOT, file).split(path.sep);
  if (rel[0] === 'probes') return 'probes';
  if (rel[0] !== 'src' || rel.length < 2) return undefined;
  return rel.length === 2 ? `src/${rel[1].replace(/\.[cm]?[jt]s$/, '')}` : `src/${rel[1]}`;
}

/** @type {import('eslint').Rule.RuleModule} */
const layersRule = {
  meta: { type: 'problem', docs: { description: 'imports follow the layering of ARCHITECTURE.md' }, schema: [] },
  create(context) {
    const from = layerOf(context.filename);
    const rule = from ? LAYERS[from] : undefined;
    if (!from || !rule) return {};
    /** @param {import('estree').Node} node @param {unknown} value */
    const check = (node, value) => {
      if (typeof value !== 'string') return;
      if (!value.startsWith('.')) {
        if (PROTOCOL_LIBRARY.test(value) && !MAY_USE_PROTOCOL_LIBRARIES.has(from)) {
          context.report({ node, message: `${from} may not import the protocol library ${value}: ${rule.why || 'use an adapter in src/protocols'}` });
        }
        return;
      }
      const to = layerOf(path.resolve(path.dirname(context.filename), value));
      if (!to || to === from || rule.may.includes('*') || rule.may.includes(to)) return;
      context.report({ node, message: `${from} may not import ${to} (${value}): ${rule.why}` });
    };
    return {
      ImportDeclaration: (node) => check(node, node.source.value),
      ExportNamedDeclaration: (node) => node.source && check(node, node.source.value),
      ExportAllDeclaration: (node) => check(node, node.source.value),
      ImportExpression: (node) => node.source.type === 'Literal' && check(node, node.source.value),
      CallExpression: (node) => {
        if (node.callee.type === 'Identifier' && node.callee.name === 'require' && node.arguments[0]?.type === 'Literal') check(node, node.arguments[0].value);
      },
    };
  },
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'runs/**', '.tmp/**', 'bin/**', 'docker/**/*.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { ecmaVersion: 2022, sourceType: 'module' } },
    plugins: { iacs: { rules: { layers: layersRule } } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-console': 'error',
      eqeqeq: ['error', 'smart'],
      'iacs/layers': 'error',
    },
  },
  {
    files: ['src/cli/**/*.ts', 'bench/**/*.ts', 'test/**/*.ts', 'fixtures/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-unused-expressions': 'off' },
  },
);
