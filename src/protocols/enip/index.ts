/** EtherNet/IP and CIP adapters: encapsulation frames, the list-command items, CIP message router requests,
 * a TCP session and unicast UDP list requests. Every function takes an AbortSignal and closes what it opened. */
export * from './frames';
export * from './items';
export * from './cip';
export * from './connection';
export * from './requests';
export * from './udp';
export * from './checks';
