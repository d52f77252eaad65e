export * from './correlate';
export * from './evidence';
export * from './outage';
