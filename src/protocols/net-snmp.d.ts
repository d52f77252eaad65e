/**
 * The subset of net-snmp (3.x, untyped JavaScript) that the SNMP adapter and the emulated agent use.
 * Written from the library's README and index.js; only what we call is declared.
 */
declare module 'net-snmp' {
  import type { EventEmitter } from 'node:events';
  import type * as dgram from 'node:dgram';

  export const Version1: 0;
  export const Version2c: 1;
  export const Version3: 3;

  export const ObjectType: Readonly<Record<string, number>> & {
    readonly Boolean: number; readonly Integer: number; readonly OctetString: number; readonly Null: number;
    readonly OID: number; readonly IpAddress: number; readonly Counter: number; readonly Gauge: number;
    readonly TimeTicks: number; readonly Opaque: number; readonly Counter64: number;
    readonly NoSuchObject: number; readonly NoSuchInstance: number; readonly EndOfMibView: number;
  };
  export const ErrorStatus: Readonly<Record<string | number, string | number>>;
  export const PduType: Readonly<Record<string | number, string | number>>;
  export const SecurityLevel: { readonly noAuthNoPriv: number; readonly authNoPriv: number; readonly authPriv: number };
  export const AuthProtocols: Readonly<Record<string, string>>;
  export const PrivProtocols: Readonly<Record<string, string>>;
  export const AccessControlModelType: { readonly None: number; readonly Simple: number };
  export const AccessLevel: { readonly None: number; readonly ReadOnly: number; readonly ReadWrite: number };
  export const MaxAccess: Readonly<Record<string, number>>;
  export const MibProviderType: { readonly Scalar: string; readonly Table: string };
  export const ResponseInvalidCode: Readonly<Record<string, number>>;

  export interface Varbind {
    oid: string;
    type?: number;
    value?: unknown;
  }

  export interface User {
    name: string;
    level: number;
    authProtocol?: string;
    authKey?: string;
    privProtocol?: string;
    privKey?: string;
  }

  export interface DgramModule {
    createSocket(type: 'udp4' | 'udp6'): dgram.Socket;
  }

  export interface SessionOptions {
    port?: number;
    retries?: number;
    timeout?: number;
    backoff?: number;
    transport?: 'udp4' | 'udp6';
    version?: number;
    backwardsGetNexts?: boolean;
    reportOidMismatchErrors?: boolean;
    idBitsSize?: 16 | 32;
    dgramModule?: DgramModule;
    engineID?: string;
    context?: string;
  }

  export type ResponseCallback = (error: Error | null, varbinds?: Varbind[]) => void;

  export interface Session extends EventEmitter {
    /** Set once a v3 discovery report arrived: the authoritative engine's ID, boots and time. */
    msgSecurityParameters?: {
      msgAuthoritativeEngineID?: Buffer;
      msgAuthoritativeEngineBoots?: number;
      msgAuthoritativeEngineTime?: number;
    };
    get(oids: string[], callback: ResponseCallback): Session;
    getNext(oids: string[], callback: ResponseCallback): Session;
    set(varbinds: Varbind[], callback: ResponseCallback): Session;
    walk(oid: string, maxRepetitions: number, feed: (varbinds: Varbind[]) => boolean | void, done: (error: Error | null) => void): Session;
    subtree(oid: string, maxRepetitions: number, feed: (varbinds: Varbind[]) => boolean | void, done: (error: Error | null) => void): Session;
    close(): Session;
  }

  export function createSession(target: string, community: string, options?: SessionOptions): Session;
  export function createV3Session(target: string, user: User, options?: SessionOptions): Session;
  export function isVarbindError(varbind: Varbind): boolean;

  export class RequestFailedError extends Error {
    status: number;
  }
  export class RequestTimedOutError extends Error {}
  export class RequestInvalidError extends Error {}
  export class ResponseInvalidError extends Error {
    code: number;
  }

  export interface MibRequest {
    oid: string;
    operation: number;
    instanceNode: { value: unknown };
    setValue?: unknown;
    done(error?: { errorStatus: number }): void;
  }

  export interface ProviderColumn {
    number: number;
    name: string;
    type: number;
    maxAccess: number;
  }

  export interface Provider {
    name: string;
    type: string;
    oid: string;
    scalarType?: number;
    maxAccess: number;
    tableColumns?: ProviderColumn[];
    tableIndex?: { columnName: string }[];
    handler?: (request: MibRequest) => void;
  }

  export interface Mib {
    registerProvider(provider: Provider): void;
    setScalarValue(name: string, value: unknown): void;
    getScalarValue(name: string): unknown;
    addTableRow(name: string, row: unknown[]): void;
  }

  export interface SimpleAccessControlModel {
    setCommunityAccess(community: string, level: number): void;
    setUserAccess(userName: string, level: number): void;
  }

  export interface Authorizer {
    addCommunity(community: string): void;
    addUser(user: User): void;
    getAccessControlModel(): SimpleAccessControlModel;
  }

  export interface AgentOptions {
    port?: number;
    address?: string | null;
    transport?: 'udp4' | 'udp6';
    engineID?: string;
    disableAuthorization?: boolean;
    accessControlModelType?: number;
    dgramModule?: DgramModule;
  }

  export interface Agent {
    getMib(): Mib;
    getAuthorizer(): Authorizer;
    close(callback?: () => void): void;
  }

  export function createAgent(options: AgentOptions, callback: (error: Error | null, data?: unknown) => void): Agent;
}
