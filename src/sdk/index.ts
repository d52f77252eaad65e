/** The probe SDK: the only module probes import besides src/protocols. */
export * from './types';
export * from './errors';
export * from './probe';
export * from './transcript';
export * from './stats';
export * from './time';
export * from './actions';
export * from './lab';
export * from './monitor';
export * from './load';
export * from './outputs';
export * from './cleanup';
export * from './boundary';
export * from './vlan';
