import type { FuzzTargetFactory } from '../protocols/fuzz';
import { httpFuzzTarget } from '../protocols/http/fuzz';
import { modbusFuzzTarget } from '../protocols/modbus';
import { opcuaFuzzTarget } from '../protocols/opcua/fuzz';
import { snmpFuzzTarget } from '../protocols/snmp-fuzz';
import { sshFuzzTarget } from '../protocols/ssh/fuzz';
import { tlsFuzzTarget } from '../protocols/tls/fuzz';

/**
 * The fuzz targets `iacs-probe replay` can rebuild, by the `protocol` of a campaign line. A protocol's
 * fuzz probe records its target's params there; one line here makes its cases replayable.
 */
export const FUZZ_TARGETS: Readonly<Record<string, FuzzTargetFactory>> = {
  modbus: modbusFuzzTarget,
  http: httpFuzzTarget,
  snmp: snmpFuzzTarget,
  tls: tlsFuzzTarget,
  ssh: sshFuzzTarget,
  opcua: opcuaFuzzTarget,
};
