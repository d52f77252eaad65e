import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { PKCS1V15_REVERT_FLAG, nodeChildArgs, repairOpensslConf } from '../../protocols/child-env';
import { PostureError } from '../errors';
import type { LoginResult } from '../accounts';
import type { RunningService } from '../types';
import type { OpcuaDevice, OpcuaPosture } from './opcua';

/**
 * Runs the emulated OPC UA server in a helper process (a node-opcua crash ends that process only), started
 * with --security-revert=CVE-2023-46809 when the posture offers Basic128Rsa15. The device's account store
 * stays here: the helper asks for every login over IPC, so a device-wide lockout still counts failures from
 * every interface.
 */

export type ToHelper =
  | { type: 'start'; config: OpcuaPosture; device: Omit<OpcuaDevice, 'accounts' | 'log'> }
  | { type: 'account'; id: number; known: boolean; result?: LoginResult; locked?: boolean }
  | { type: 'close' };

export type FromHelper =
  | { type: 'listening'; port: number }
  | { type: 'failed'; message: string; code?: string; posture: boolean }
  | { type: 'account'; id: number; username: string; password?: string; source?: string }
  | { type: 'log'; message: string }
  | { type: 'closed' };

const ENTRY = path.join(__dirname, `opcua-process${path.extname(__filename)}`);
const START_TIMEOUT_MS = 60_000;

const lastLine = (text: string) => text.trim().split('\n').filter((l) => /\S/.test(l)).slice(-3).join(' | ');

/** `pkcs1v15`: start the helper with the flag that re-enables RSA PKCS#1 v1.5 decryption. */
export function startOpcuaInHelper(config: OpcuaPosture, device: OpcuaDevice, pkcs1v15: boolean): Promise<RunningService> {
  repairOpensslConf();
  const flags = pkcs1v15 ? [PKCS1V15_REVERT_FLAG] : [];
  const child = spawn(process.execPath, nodeChildArgs(ENTRY, flags), { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-2000); });
  // A helper that just crashed may still look connected: the write then fails (EPIPE), and without a callback
  // Node would raise it as an uncaught 'error' of the child. Its exit is handled below; the failed send is not news.
  const send = (m: ToHelper) => { if (child.connected) child.send(m, () => undefined); };
  child.on('error', (err) => device.log(`opcua: the OPC UA server process: ${err.message}`));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.on('message', (m: FromHelper) => {
    if (m.type === 'log') device.log(m.message);
    if (m.type !== 'account') return;
    void (async () => {
      const known = await device.accounts.has(m.username);
      const result = m.password === undefined ? undefined : await device.accounts.login(m.username, m.password, m.source ?? '', 'opcua');
      const locked = result === undefined ? undefined : device.accounts.isLocked?.(m.username, m.source ?? '');
      send({ type: 'account', id: m.id, known, result, locked });
    })();
  });
  const kill = () => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); };
  // The helper must not outlive this process (a crash of the emulator, a test runner that exits).
  process.once('exit', kill);

  return new Promise<RunningService>((resolve, reject) => {
    const timer = setTimeout(() => {
      kill();
      reject(new Error(`opcua: the OPC UA server process did not start within ${START_TIMEOUT_MS / 1000} s${stderr ? `: ${stderr.trim()}` : ''}`));
    }, START_TIMEOUT_MS);
    const onExit = (code: number | null, signal: string | null) => {
      clearTimeout(timer);
      reject(new Error(`opcua: the OPC UA server process ended (${signal ?? `exit ${String(code)}`})${stderr ? `: ${stderr.trim()}` : ''}`));
    };
    child.once('exit', onExit);
    child.on('message', (m: FromHelper) => {
      if (m.type === 'failed') {
        clearTimeout(timer);
        child.off('exit', onExit);
        kill();
        const err = m.posture ? new PostureError(m.message) : Object.assign(new Error(m.message), m.code ? { code: m.code } : {});
        reject(err);
      }
      if (m.type !== 'listening') return;
      clearTimeout(timer);
      child.off('exit', onExit);
      let closing: Promise<void> | undefined;
      // A crash ends this service only: the port stops answering, and the device log says why.
      child.once('exit', (code, signal) => {
        if (!closing) device.log(`opcua: the OPC UA server process ended (${signal ?? `exit ${String(code)}`})${stderr ? `: ${lastLine(stderr)}` : ''}`);
      });
      resolve({
        endpoints: [{ protocol: 'opcua', host: device.host, port: m.port }],
        close: () => (closing ??= (async () => {
          send({ type: 'close' });
          const grace = setTimeout(kill, 5000);
          await exited;
          clearTimeout(grace);
          process.off('exit', kill);
        })()),
      });
    });
    send({ type: 'start', config, device: { host: device.host, identity: device.identity, workDir: device.workDir, port: device.port } });
  });
}
