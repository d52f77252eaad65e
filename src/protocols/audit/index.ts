export * from './correlate';
export * from './evidence';
export * from './clock';
export * from './opcua-records';
export * from './outage';
export * from './capacity';
