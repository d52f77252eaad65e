/**
 * The emulated OPC UA server in a helper process (see opcua-helper.ts): started with
 * --security-revert=CVE-2023-46809 for postures that offer Basic128Rsa15; accounts are checked by the
 * parent over IPC (the lockout state of the last login is kept for the audit events).
 */
import type { LoginResult } from '../accounts';
import { PostureError } from '../errors';
import type { RunningService } from '../types';
import { startOpcuaServer } from './opcua';
import type { FromHelper, ToHelper } from './opcua-helper';

function send(m: FromHelper, then?: () => void): void {
  if (process.connected) process.send?.(m, undefined, {}, () => then?.());
  else then?.();
}
let nextId = 1;
type Answer = { known: boolean; result?: LoginResult; locked?: boolean };
const waiting = new Map<number, (answer: Answer) => void>();
const lockedAfterLogin = new Map<string, boolean>();
let running: RunningService | undefined;

function ask(username: string, password?: string, source?: string): Promise<Answer> {
  const id = nextId++;
  return new Promise((resolve) => {
    waiting.set(id, resolve);
    send({ type: 'account', id, username, password, source });
  });
}

async function close(): Promise<void> {
  await running?.close().catch(() => undefined);
  send({ type: 'closed' }, () => process.exit(0));
}

process.on('message', (m: ToHelper) => {
  if (m.type === 'account') {
    waiting.get(m.id)?.({ known: m.known, result: m.result, locked: m.locked });
    waiting.delete(m.id);
  } else if (m.type === 'close') {
    void close();
  } else if (m.type === 'start') {
    startOpcuaServer(m.config, {
      ...m.device,
      accounts: {
        has: async (username) => (await ask(username)).known,
        login: async (username, password, source) => {
          const answer = await ask(username, password, source);
          lockedAfterLogin.set(`${username}\0${source}`, answer.locked ?? false);
          return answer.result ?? 'denied';
        },
        isLocked: (username, source) => lockedAfterLogin.get(`${username}\0${source}`) ?? false,
      },
      log: (message) => send({ type: 'log', message }),
    }).then((service) => {
      running = service;
      send({ type: 'listening', port: service.endpoints[0].port });
    }, (err: unknown) => {
      send({
        type: 'failed', message: err instanceof Error ? err.message : String(err), code: (err as NodeJS.ErrnoException | null)?.code,
        posture: err instanceof PostureError,
      }, () => process.exit(1));
    });
  }
});
// The emulator went away without closing us (killed): stop serving.
process.on('disconnect', () => void close());
