export * from './correlate';
export * from './evidence';
