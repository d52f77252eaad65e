/** Functional account checks (accounts.*): the declared interface, test passwords, the cleanup journal. */
export * from './types';
export * from './passwords';
export * from './http';
export * from './ssh';
export * from './declared';
export * from './journal';
