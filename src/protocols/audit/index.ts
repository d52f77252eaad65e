export * from './correlate';
