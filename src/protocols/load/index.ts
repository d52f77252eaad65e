/** Load generators and stepped load for the robustness probes (docs/robustness.md, Load probes). */
export * from './steps';
export * from './modbus';
export * from './http';
export * from './request';
export * from './connections';
export * from './verdict';
export * from './snmp';
export * from './opcua';
