import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';
import { loadProbes } from '../../src/runner/registry';
import { UDP_PROTOCOLS, type ServiceProtocol } from '../../src/sdk';
import { PEER_KINDS, kindsFor, type PeerKind } from '../helpers/misbehaving';

/**
 * Probes that are not run against the misbehaving peers, and why: they have no TCP/UDP service of their own to
 * put a peer behind (the peers are run against the protocol clients these probes share, through the probes that own them).
 */
const NO_PEER_MATRIX: Record<string, string> = {
  'audit.events':
    'reads the run action log and the lab syslog collector at the end of the host; it opens no connection to the device',
  'audit.identity':
    'reads the run action log and the lab syslog collector at the end of the host; it opens no connection to the device',
  'audit.monitoring':
    'reads the run action log and the lab collectors at the end of the host; it opens no connection to the device',
  'audit.timestamps':
    'reads the run action log and the lab syslog collector at the end of the host; it opens no connection to the device',
  'audit.opcua-events':
    'reads the AuditEventType events the runner subscribed to before the first attempt; it opens no connection of its own',
  'audit.capacity':
    'host scope: logs in through the login adapters of the <protocol>.lockout probes (each runs the matrix) and needs the lab syslog collector',
  'audit.outage':
    'host scope: logs in through the login adapters of the <protocol>.lockout probes (each runs the matrix) while it suspends the lab collectors',
  'audit.time-integrity':
    'host scope: reads the device clock through the http/ssh/opcua clients the service probes run the matrix against, and holds the lab NTP server',
  'boundary.conduits':
    'host scope on the bench: sends through the zones and conduits of a network component (network namespaces), no service to put a peer behind',
  'boundary.deny-default':
    'host scope on the bench: sends through the zones and conduits of a network component (network namespaces), no service to put a peer behind',
  'boundary.fail-close':
    'host scope on the bench: sends through the zones and conduits of a network component (network namespaces), no service to put a peer behind',
  'boundary.island-mode':
    'host scope on the bench: sends through the zones and conduits of a network component (network namespaces), no service to put a peer behind',
  'boundary.management':
    'host scope on the bench: sends through the zones and conduits of a network component (network namespaces), no service to put a peer behind',
  'boundary.person-to-person':
    'host scope on the bench: sends through the zones and conduits of a network component (network namespaces), no service to put a peer behind',
  'boundary.spoof-fragment':
    'host scope on the bench: crafted packets through the zones of a network component (network namespaces), no service to put a peer behind',
  'boundary.vlan-isolation':
    'layer 2 on the bench: raw Ethernet frames between the declared VLAN endpoints (network namespaces), no IP service to put a peer behind',
  'ports.tcp':
    'host scope: scans every port of the host; a misbehaving listener is one more open port, whose banner nmap reads under its own timeouts',
  'ports.udp':
    'host scope: scans every port of the host; a misbehaving listener is one more open port, whose banner nmap reads under its own timeouts',
  'robustness.network-storm':
    'host scope: raw packets (nping/hping3) at the host inside a network namespace; it parses no answer from a service',
};

interface MatrixCall { transport: 'tcp' | 'udp'; skipped: Partial<Record<PeerKind, string>>; problems: string[] }

const isDescribe = (n: ts.Node): boolean => ts.isCallExpression(n) && ts.isIdentifier(n.expression) && n.expression.text === 'describe';

/**
 * True when `call` runs whenever its file runs: every enclosing node is a statement list, a function passed to
 * plain `describe(...)` (not describe.skip, not inside an if, a loop or a helper function).
 */
function unconditional(call: ts.CallExpression): boolean {
  let n: ts.Node = call.parent;
  if (!ts.isExpressionStatement(n)) return false;
  for (n = n.parent; !ts.isSourceFile(n); n = n.parent) {
    if (ts.isBlock(n)) continue;
    if ((ts.isArrowFunction(n) || ts.isFunctionExpression(n)) && isDescribe(n.parent)) continue;
    if (isDescribe(n) || (ts.isExpressionStatement(n) && isDescribe(n.expression))) continue;
    return false;
  }
  return true;
}

/** The local name a test file gives the default export of probes/<protocol>/<name>. */
function probeImport(src: ts.SourceFile, testFile: string, probeId: string): string | undefined {
  const [protocol, ...rest] = probeId.split('.');
  const target = path.resolve('probes', protocol, rest.join('.'));
  for (const st of src.statements) {
    if (!ts.isImportDeclaration(st) || !ts.isStringLiteral(st.moduleSpecifier) || !st.importClause?.name) continue;
    if (path.resolve(path.dirname(testFile), st.moduleSpecifier.text) === target) return st.importClause.name.text;
  }
  return undefined;
}

/** Reads one describeMisbehavingPeers(probe, { ... }) call: its transport and its skipped kinds with their reasons. */
function readCall(src: ts.SourceFile, call: ts.CallExpression, appliesTo: readonly ServiceProtocol[]): MatrixCall {
  const problems: string[] = [];
  const skipped: Partial<Record<PeerKind, string>> = {};
  const options = call.arguments[1];
  let transport: 'tcp' | 'udp' = appliesTo.length > 0 && appliesTo.every((p) => UDP_PROTOCOLS.has(p)) ? 'udp' : 'tcp';
  if (!options || !ts.isObjectLiteralExpression(options)) return { transport, skipped, problems: ['options are not an object literal'] };
  for (const prop of options.properties) {
    if (!ts.isPropertyAssignment(prop)) {
      if (ts.isSpreadAssignment(prop)) problems.push('options spread another object: cannot be checked');
      continue;
    }
    const name = prop.name.getText(src);
    if (name === 'service') {
      const text = prop.initializer.getText(src);
      const protocol = /protocol: '([a-z0-9-]+)'/.exec(text)?.[1];
      if (/transport: 'udp'/.test(text) || (protocol && UDP_PROTOCOLS.has(protocol as ServiceProtocol))) transport = 'udp';
      else if (protocol || /transport: 'tcp'/.test(text)) transport = 'tcp';
    }
    if (name !== 'skip') continue;
    if (!ts.isObjectLiteralExpression(prop.initializer)) { problems.push('skip is not an object literal of kind: reason'); continue; }
    for (const s of prop.initializer.properties) {
      const kind = s.name?.getText(src).replace(/['"]/g, '') ?? '';
      if (!(kind in PEER_KINDS)) { problems.push(`skip names an unknown kind '${kind}'`); continue; }
      const reason = ts.isPropertyAssignment(s) && ts.isStringLiteralLike(s.initializer) ? s.initializer.text.trim() : '';
      if (reason.length < 10) problems.push(`skip '${kind}' has no stated reason (a string literal)`);
      skipped[kind as PeerKind] = reason;
    }
  }
  return { transport, skipped, problems };
}

/** Every unconditional describeMisbehavingPeers call for `probeId` in its test file. */
function matrixCalls(probeId: string, appliesTo: readonly ServiceProtocol[]): { file: string; calls: MatrixCall[] } {
  const [protocol, ...rest] = probeId.split('.');
  const file = path.join('test', 'probes', protocol, `${rest.join('.')}.test.ts`);
  if (!fs.existsSync(file)) return { file, calls: [] };
  const src = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const local = probeImport(src, file, probeId);
  const calls: MatrixCall[] = [];
  const visit = (n: ts.Node) => {
    if (ts.isCallExpression(n) && ts.isIdentifier(n.expression) && n.expression.text === 'describeMisbehavingPeers'
      && n.arguments[0] && ts.isIdentifier(n.arguments[0]) && n.arguments[0].text === local && unconditional(n)) {
      calls.push(readCall(src, n, appliesTo));
    }
    ts.forEachChild(n, visit);
  };
  visit(src);
  return { file, calls };
}

/**
 * The misbehaving-peer matrix, enforced statically over the test sources: every registered probe's test file
 * calls describeMisbehavingPeers with that probe (imported from its file) where nothing can switch it off, and
 * every peer kind of its transport is run or skipped with a stated reason. A static check was chosen over
 * recording what ran: it needs no other test to have run, cannot be satisfied by a stale record, and names the
 * file to fix; the helper itself runs every applicable kind unless skipped, so what the source says is what runs.
 */
describe('meta: every probe against every misbehaving peer', () => {
  const figures = { probes: 0, runs: 0, skipped: 0, exempt: 0 };

  for (const probe of loadProbes()) {
    it(`${probe.id}: every peer kind of its transport runs or has a stated reason`, () => {
      const exempt = NO_PEER_MATRIX[probe.id];
      const { file, calls } = matrixCalls(probe.id, probe.appliesTo);
      if (exempt !== undefined) {
        expect(exempt.length, `${probe.id}: reason for no peer matrix`).to.be.greaterThan(20);
        expect(calls, `${file} runs the peer matrix: remove ${probe.id} from NO_PEER_MATRIX`).to.deep.equal([]);
        figures.exempt++;
        return;
      }
      expect(calls.length, `${file} has no unconditional describeMisbehavingPeers(<${probe.id} import>, {...})`).to.be.greaterThan(0);
      for (const call of calls) expect(call.problems, file).to.deep.equal([]);
      const transport = calls[0].transport;
      const covered = new Set(calls.flatMap((c) => kindsFor(c.transport).filter((k) => c.skipped[k] === undefined)));
      const reasoned = new Set(calls.flatMap((c) => Object.keys(c.skipped)));
      for (const kind of kindsFor(transport)) expect(covered.has(kind) || reasoned.has(kind), `${file}: peer kind ${kind}`).to.equal(true);
      figures.probes++;
      figures.runs += calls.reduce((n, c) => n + kindsFor(c.transport).filter((k) => c.skipped[k] === undefined).length, 0);
      figures.skipped += calls.reduce((n, c) => n + Object.keys(c.skipped).length, 0);
    });
  }

  after(() => {
    // The README's Reliability figures.
    console.log(`      peer matrix: ${figures.probes} probes, ${figures.runs} probe x peer-kind runs, ${figures.skipped} kinds skipped with a reason, ${figures.exempt} probes exempt with a reason`);
  });
});
