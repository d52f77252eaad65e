/**
 * Benchmark (not a test): syslog records per second received and parsed over TLS (RFC 5425, octet counting)
 * by our lab collector vs Debian's rsyslogd (imtcp with gtls, writing each record to a file) on the same
 * stream, in one run on this machine.
 *
 *   npx tsx bench/audit.ts [records] [runs]
 *
 * One TLS sender (in this process, for both receivers) writes `records` (default 20000) RFC 5424 messages of
 * about 150 bytes as fast as TLS takes them; the clock runs from connect to the moment the last record was
 * parsed (ours: the collector's record list; rsyslog: the last line in its output file). Medians of `runs`
 * (default 5), alternating. Prints one JSON line with records/s of each and the ratio ours/rsyslog (> 1: faster).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { makeLabPki, type LabPki } from '../src/protocols/lab';
import { octetCount, startSyslogCollector } from '../src/protocols/syslog';
import { freePort } from '../test/helpers/openssl-server';
import { findRsyslogd, rsyslogVersion, stopChild } from '../test/helpers/rsyslog';
import { median } from './timing';

function stream(count: number): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    parts.push(octetCount(`<38>1 2026-03-10T11:59:58.123Z plc1 sshd 4242 AUTH [origin ip="10.0.0.9"] Failed password for admin from 10.0.0.9 port 5555 seq=${i}`));
  }
  return Buffer.concat(parts);
}

function send(port: number, pki: LabPki, bytes: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: pki.ca.pem, servername: 'collector.lab' }, () => socket.end(bytes, () => resolve()));
    socket.once('error', reject);
  });
}

async function ours(dir: string, pki: LabPki, bytes: Buffer, count: number): Promise<number> {
  const collector = await startSyslogCollector({
    address: '127.0.0.1', journalFile: path.join(dir, `ours-${Date.now()}.ndjson`),
    tls: { port: 0, certPem: pki.collector.pem, keyPem: pki.collector.keyPem },
  });
  try {
    const t = process.hrtime.bigint();
    await send(collector.ports.tls!, pki, bytes);
    const last = await collector.waitFor((r) => r.seq === count, 120_000);
    if (!last || last.message.format !== '5424') throw new Error(`ours: ${collector.records.length} of ${count} records`);
    return Number(process.hrtime.bigint() - t) / 1e6;
  } finally {
    await collector.close();
  }
}

async function rsyslog(binary: string, dir: string, pki: LabPki, bytes: Buffer, count: number): Promise<number> {
  const work = fs.mkdtempSync(path.join(dir, 'rsyslog-'));
  const port = await freePort();
  const out = path.join(work, 'out.log');
  fs.writeFileSync(path.join(work, 'rsyslog.conf'), [
    `global(workDirectory="${work}" defaultNetstreamDriverCAFile="${pki.files.caFile}" defaultNetstreamDriverCertFile="${pki.files.collectorCert}" defaultNetstreamDriverKeyFile="${pki.files.collectorKey}")`,
    'module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")',
    `input(type="imtcp" address="127.0.0.1" port="${port}")`,
    `action(type="omfile" file="${out}" template="RSYSLOG_FileFormat")`,
  ].join('\n'));
  const child = spawn(binary, ['-f', path.join(work, 'rsyslog.conf'), '-i', path.join(work, 'pid'), '-n'], { stdio: 'ignore' });
  try {
    while (!fs.existsSync(path.join(work, 'pid'))) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 200)); // its listener opens right after the pid file
    const t = process.hrtime.bigint();
    await send(port, pki, bytes);
    const deadline = Date.now() + 120_000;
    // rsyslog's file output is its "parsed and handled" moment; poll for the last record's line.
    while (!(fs.existsSync(out) && fs.readFileSync(out, 'utf8').includes(`seq=${count - 1}\n`))) {
      if (Date.now() > deadline) throw new Error('rsyslog: not all records arrived');
      await new Promise((r) => setTimeout(r, 2));
    }
    return Number(process.hrtime.bigint() - t) / 1e6;
  } finally {
    await stopChild(child);
  }
}

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 20_000);
  const runs = Number(process.argv[3] ?? 5);
  const binary = findRsyslogd();
  if (!binary) throw new Error('rsyslogd is not installed (packages rsyslog rsyslog-gnutls)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-bench-audit-'));
  try {
    const pki = makeLabPki(path.join(dir, 'pki'), { address: '127.0.0.1' });
    const bytes = stream(count);
    const a: number[] = [];
    const b: number[] = [];
    for (let i = 0; i < runs; i++) {
      a.push(await ours(dir, pki, bytes, count));
      b.push(await rsyslog(binary, dir, pki, bytes, count));
    }
    const oursRate = count / (median(a) / 1000);
    const peerRate = count / (median(b) / 1000);
    console.log(JSON.stringify({
      work: `${count} RFC 5424 records over TLS (octet counting), ${bytes.length} bytes`, runs,
      oursRecordsPerS: Math.round(oursRate), rsyslogRecordsPerS: Math.round(peerRate), rsyslog: rsyslogVersion(binary),
      ratio: Number((oursRate / peerRate).toFixed(2)), node: process.version, cpus: os.cpus().length,
    }));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
