import { authChallenges, headerFields } from './headers';
import type { HttpResponse } from './request';

/** Ports Microsoft assigns to WinRM (WS-Management): HTTP 5985, HTTPS 5986. */
export const WINRM_PORTS = { http: 5985, https: 5986 } as const;

/** The unauthenticated request a WS-Man client starts with: POST /wsman with a SOAP content type and no body. */
export const WSMAN_REQUEST = { method: 'POST', path: '/wsman', headers: { 'content-type': 'application/soap+xml;charset=UTF-8' }, body: '' } as const;

export interface WsmanAnswer {
  /** The answer is WinRM's: a 401 challenging with Negotiate/Kerberos/CredSSP, Microsoft-HTTPAPI, or a WS-Man SOAP body. */
  readonly wsman: boolean;
  readonly status: number;
  readonly schemes: readonly string[];
  readonly server?: string;
  readonly why: string;
}

/** Recognises WinRM's answer to WSMAN_REQUEST. */
export function recogniseWsman(response: Pick<HttpResponse, 'status' | 'rawHeaders' | 'body'>): WsmanAnswer {
  const schemes = authChallenges(headerFields(response.rawHeaders, 'www-authenticate')).map((c) => c.scheme);
  const server = headerFields(response.rawHeaders, 'server')[0];
  const base = { status: response.status, schemes, ...(server ? { server } : {}) };
  const windowsAuth = schemes.filter((s) => /^(negotiate|kerberos|credssp)$/i.test(s));
  if (response.status === 401 && windowsAuth.length > 0) return { ...base, wsman: true, why: `401 challenging ${windowsAuth.join(', ')}` };
  if (server && /Microsoft-HTTPAPI/i.test(server)) return { ...base, wsman: true, why: `Server: ${server}` };
  if (/schemas\.dmtf\.org\/wbem\/wsman|schemas\.xmlsoap\.org\/ws\/2004\/08\/addressing/.test(response.body.toString('utf8', 0, 4096))) {
    return { ...base, wsman: true, why: 'a WS-Management SOAP body' };
  }
  return { ...base, wsman: false, why: `HTTP ${response.status}${schemes.length ? ` challenging ${schemes.join(', ')}` : ''}, no WS-Man sign` };
}
