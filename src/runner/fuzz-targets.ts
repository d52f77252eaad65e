import type { FuzzTargetFactory } from '../protocols/fuzz';
import { httpFuzzTarget } from '../protocols/http/fuzz';
import { modbusFuzzTarget } from '../protocols/modbus';
import { snmpFuzzTarget } from '../protocols/snmp-fuzz';

/**
 * The fuzz targets `iacs-probe replay` can rebuild, by the `protocol` of a campaign line. A protocol's
 * fuzz probe records its target's params there; one line here makes its cases replayable.
 */
export const FUZZ_TARGETS: Readonly<Record<string, FuzzTargetFactory>> = {
  modbus: modbusFuzzTarget,
  http: httpFuzzTarget,
  snmp: snmpFuzzTarget,
};
