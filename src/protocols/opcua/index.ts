/** OPC UA adapters over node-opcua (client side) for probes; see client.ts. */
export * from './certificate';
export * from './client';
export * from './errors';
export * from './identity';
export * from './names';
export * from './endpoints';
export * from './baseline';
export * from './audit';
