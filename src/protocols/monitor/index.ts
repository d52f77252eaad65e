/** Watches of the essential-function monitor (src/runner/monitor.ts runs them; src/sdk/monitor.ts judges). */
export * from './watch';
export * from './modbus';
export * from './roundtrip';
export * from './opcua';
