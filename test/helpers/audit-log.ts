import type { Posture } from '../../src/emulator';
import { postureWith } from './postures';

/** Accounts of the built-in postures (profiles/postures/*.yaml) for the audit-log probes. */
export const HARDENED_READER = { username: 'engineer', password: 'Eng1neer!Bench-2026' };
export const HARDENED_OPERATOR = { username: 'operator', password: 'Op3rator!Bench-2026' };
export const WEAK_ADMIN = { username: 'admin', password: 'admin' };
export const WEAK_OPERATOR = { username: 'operator', password: 'operator' };

/** The posture's web UI alone; the weak device's log also keeps its web events (its posture logs only ssh, telnet, ftp). */
export function webOnly(name: 'weak' | 'hardened', auditLog?: Record<string, unknown>): Posture {
  const p = postureWith(name, ['https']);
  const https = { ...p.services.https!, httpPort: null, ...(auditLog ? { auditLog: { ...(p.services.https!.auditLog as object), ...auditLog } } : {}) };
  return { ...p, audit: { ...p.audit, services: ['https'] }, services: { https } };
}

export const LOG_LINES = [
  '<38>1 2026-03-05T10:00:00.000Z plc1 sshd - AUTH_OK - login succeeded for user admin from 192.0.2.5',
  '<36>1 2026-03-05T10:01:00.000Z plc1 sshd - AUTH_FAIL - login failed for user bob from 192.0.2.6',
  '<38>1 2026-03-05T10:02:00.000Z plc1 httpd - CFG - configuration changed by admin',
];

