import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { OPCUAServer } from 'node-opcua';
import { loadOpcua } from '../../src/protocols/opcua/logging';

/** What the peer's server raised, as node-opcua handed it to the address space (the server-side truth). */
export interface RaisedEvent {
  readonly eventType: string;
  readonly clientUserId: string | undefined;
  readonly status: boolean | undefined;
  readonly sourceName: string | undefined;
}

export interface AuditPeer {
  readonly port: number;
  readonly server: OPCUAServer;
  readonly raised: RaisedEvent[];
  close(): Promise<void>;
}

export const PEER_USERS: Readonly<Record<string, string>> = { auditor: 'audit-pass-1', operator: 'operator-pass-1' };

/**
 * node-opcua's own OPCUAServer, configured here and not through the emulator: Basic256Sha256
 * SignAndEncrypt, UserName tokens checked against PEER_USERS, unknown client certificates trusted,
 * `isAuditing` as given. `rewrite` lets a deceptive peer change the fields of each audit event before
 * node-opcua raises it. Every event raised is recorded in `raised`.
 */
export async function startAuditPeer(options: { isAuditing: boolean; rewrite?: (eventType: string, fields: Record<string, { value: unknown }>) => void }): Promise<AuditPeer> {
  const lib = await loadOpcua();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-opcua-audit-peer-'));
  const serverCertificateManager = new lib.OPCUACertificateManager({ rootFolder: path.join(root, 'pki'), automaticallyAcceptUnknownCertificate: true, disableFileWatchers: true });
  const server = new lib.OPCUAServer({
    port: 0, host: '127.0.0.1', hostname: '127.0.0.1',
    securityPolicies: [lib.SecurityPolicy.Basic256Sha256], securityModes: [lib.MessageSecurityMode.SignAndEncrypt],
    allowAnonymous: false, serverCertificateManager, isAuditing: options.isAuditing,
    userManager: { isValidUser: (user: string, password: string) => PEER_USERS[user] === password },
  });
  await serverCertificateManager.initialize();
  await server.initialize();
  const raised: RaisedEvent[] = [];
  const raise = server.raiseEvent.bind(server) as (type: string, fields: Record<string, { value: unknown }>) => void;
  (server as unknown as { raiseEvent: typeof raise }).raiseEvent = (type, fields) => {
    options.rewrite?.(type, fields);
    raised.push({
      eventType: type, clientUserId: fields.clientUserId?.value as string | undefined,
      status: fields.status?.value as boolean | undefined, sourceName: fields.sourceName?.value as string | undefined,
    });
    raise(type, fields);
  };
  await server.start();
  return {
    port: server.endpoints[0].port, server, raised,
    async close() {
      await server.shutdown(0);
      await serverCertificateManager.dispose();
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}
