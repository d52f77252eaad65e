import type * as http from 'node:http';
import type { DeviceContext } from '../types';

/**
 * The `auditLog:` section of the https posture: the device's security log as a web resource (CR 6.1, 3.9).
 * Roles are the account roles of the posture; `anonymous` stands for a request without credentials.
 */
export interface AuditLogPosture {
  path?: string;
  /** json (default: an array of records), syslog (one line per record, as sent), html (a table for people). */
  format?: 'json' | 'syslog' | 'html';
  /** Roles that may read (GET). */
  read?: string[];
  /** Roles that may add records (POST, PATCH) or replace them (PUT). */
  write?: string[];
  /** Roles that may clear the log (DELETE). */
  delete?: string[];
}

const MAX_BODY = 16 * 1024;

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function render(device: DeviceContext, format: AuditLogPosture['format']): { type: string; body: string } {
  const records = device.auditRecords.list();
  if (format === 'syslog') return { type: 'text/plain; charset=utf-8', body: records.map((r) => `${r.line}\n`).join('') };
  if (format === 'html') {
    const rows = records.map((r) => `<tr><td>${escapeHtml(String(r.object.time ?? ''))}</td><td>${escapeHtml(String(r.object.message ?? r.line))}</td></tr>`).join('');
    return { type: 'text/html; charset=utf-8', body: `<!doctype html><html><head><title>Security log</title></head><body><table><tr><th>Time</th><th>Event</th></tr>${rows}</table></body></html>\n` };
  }
  return { type: 'application/json', body: `${JSON.stringify(records.map((r) => r.object))}\n` };
}

/** The account's role, or `anonymous`; undefined when credentials were given and refused. */
export type Caller = { user?: string; role: string } | undefined;

export interface AuditLogRoute {
  readonly path: string;
  handle(req: http.IncomingMessage, res: http.ServerResponse, caller: Caller, realm: string): void;
}

/**
 * Serves the log resource: reads for the `read` roles, writes and clearing only for the roles the posture names
 * (none on a hardened device: 405 for an authorised reader, 401/403 for everyone else). Every answer is logged.
 */
export function auditLogRoute(config: AuditLogPosture, device: DeviceContext): AuditLogRoute {
  const path = config.path ?? '/api/audit-log';
  const allowed = (roles: string[] | undefined, caller: NonNullable<Caller>) => (roles ?? []).includes(caller.role);
  const handle = (req: http.IncomingMessage, res: http.ServerResponse, caller: Caller, realm: string): void => {
    const source = req.socket.remoteAddress ?? '';
    const method = req.method ?? 'GET';
    const who = caller?.user;
    const refuse = (detail: string) => {
      device.audit.event({ category: 'access-denied', service: 'https', user: who, source, detail: `${method} ${path}${detail}` });
      if (!caller || caller.role === 'anonymous') {
        res.writeHead(401, { 'www-authenticate': `Basic realm="${realm}", charset="UTF-8"`, 'content-type': 'text/plain' });
        return res.end('Authentication required\n');
      }
      const mayRead = allowed(config.read, caller);
      res.writeHead(mayRead ? 405 : 403, { 'content-type': 'text/plain', ...(mayRead ? { allow: 'GET, HEAD' } : {}) });
      return res.end(mayRead ? 'The audit log cannot be changed\n' : 'Forbidden\n');
    };
    if (method === 'GET' || method === 'HEAD') {
      if (!caller || !allowed(config.read, caller)) return void refuse('');
      device.audit.event({ category: 'audit-log-read', service: 'https', user: who, source });
      const { type, body } = render(device, config.format);
      res.writeHead(200, { 'content-type': type });
      res.end(method === 'HEAD' ? undefined : body);
      return;
    }
    const roles = method === 'DELETE' ? config.delete : ['POST', 'PATCH', 'PUT'].includes(method) ? config.write : [];
    if (!caller || !allowed(roles, caller)) return void refuse('');
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
      if (body.length > MAX_BODY) req.destroy();
    });
    req.on('end', () => {
      if (method === 'DELETE') device.auditRecords.clear();
      else if (method === 'PUT') device.auditRecords.replace(body);
      else device.auditRecords.write(body);
      device.audit.event({ category: 'audit-log-changed', service: 'https', user: who, source, detail: method === 'DELETE' ? 'cleared' : 'modified' });
      res.writeHead(204);
      res.end();
    });
  };
  return { path, handle };
}
