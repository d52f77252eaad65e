// Healthcheck of the emulated device container: healthy once the emulator has printed its services line
// and every TCP service in it accepts a connection. Then a marker file is written and later checks only
// look at it, so that the check opens no sessions while the harness assesses the device.
import process from 'node:process';
import * as fs from 'node:fs';
import * as net from 'node:net';

const LINE = '/run/iacs-emulator.json';
const MARKER = '/run/iacs-emulator.healthy';
const UDP_PROTOCOLS = new Set(['snmp', 'tftp', 'bacnet', 'udp']);

function connect(host, port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, timeout: 2000 });
    socket.once('connect', () => { socket.destroy(); resolve(); });
    socket.once('timeout', () => { socket.destroy(); reject(new Error(`${host}:${port}: timeout`)); });
    socket.once('error', (err) => reject(new Error(`${host}:${port}: ${err.message}`)));
  });
}

async function main() {
  if (fs.existsSync(MARKER)) return 0;
  const text = fs.existsSync(LINE) ? fs.readFileSync(LINE, 'utf8').trim() : '';
  if (!text) {
    process.stderr.write('the emulator has not announced its services yet\n');
    return 1;
  }
  const { services } = JSON.parse(text.split('\n')[0]);
  const tcp = services.filter((s) => !UDP_PROTOCOLS.has(s.protocol));
  await Promise.all(tcp.map((s) => connect(s.host, s.port)));
  fs.writeFileSync(MARKER, `${new Date().toISOString()} ${tcp.map((s) => `${s.protocol}:${s.port}`).join(' ')}\n`);
  return 0;
}

main().then((code) => { process.exitCode = code; }, (err) => {
  process.stderr.write(`${err.message}\n`);
  process.exitCode = 1;
});
