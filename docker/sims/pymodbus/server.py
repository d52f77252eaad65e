"""A third-party Modbus/TCP server for the Docker regression kit: Debian's python3-pymodbus (3.0.x API).

Usage: /usr/bin/python3 server.py HOST [PORT]   (PORT default 502; 0 = any free port, printed on stderr)

Fixed posture (docs/docker.md): plain Modbus/TCP on <container address>:502, no authentication or
authorisation of any kind (the protocol has none), unit 1 answers, requests to any other unit id get no answer.
Unit 1 has 100 holding registers (register 0 counts up once a second: the essential function a monitor
watches; the others hold 100 + address and are writable by anyone), 100 input registers (200 + address),
64 coils (every third set), 64 discrete inputs (every second set), and the device identification below
(function 43/14). Runs until SIGTERM.
"""
import asyncio
import signal
import sys

from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
from pymodbus.device import ModbusDeviceIdentification
from pymodbus.server.async_io import ModbusTcpServer

UNIT = 1


async def count(store: ModbusSlaveContext) -> None:
    """Register 0 of unit 1 increments every second (wrapping at 16 bits), like a PLC's cycle counter."""
    while True:
        await asyncio.sleep(1)
        value = store.getValues(3, 0, 1)[0]
        store.setValues(3, 0, [(value + 1) & 0xFFFF])


async def main() -> None:
    host = sys.argv[1]
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 502
    store = ModbusSlaveContext(
        hr=ModbusSequentialDataBlock(0, [0] + [100 + i for i in range(1, 100)]),
        ir=ModbusSequentialDataBlock(0, [200 + i for i in range(100)]),
        co=ModbusSequentialDataBlock(0, [i % 3 == 0 for i in range(64)]),
        di=ModbusSequentialDataBlock(0, [i % 2 == 0 for i in range(64)]),
        zero_mode=True,
    )
    context = ModbusServerContext(slaves={UNIT: store}, single=False)
    identity = ModbusDeviceIdentification(info_name={
        "VendorName": "pymodbus",
        "ProductCode": "PM",
        "MajorMinorRevision": "3.0.0",
        "VendorUrl": "https://github.com/pymodbus-dev/pymodbus",
        "ProductName": "pymodbus server (iacs-probe Docker regression kit)",
        "ModelName": "docker-sim",
    })
    server = ModbusTcpServer(context, identity=identity, address=(host, port))
    serving = asyncio.create_task(server.serve_forever())
    counter = asyncio.create_task(count(store))
    await server.serving
    bound = server.server.sockets[0].getsockname()[1]
    print(f"pymodbus Modbus/TCP server on {host}:{bound}, unit {UNIT}", file=sys.stderr, flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    counter.cancel()
    await server.server_close()
    serving.cancel()


if __name__ == "__main__":
    asyncio.run(main())
