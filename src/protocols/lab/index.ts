export * from './address';
export * from './pki';
