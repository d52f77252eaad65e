"""A third-party Modbus/TCP server: Debian's python3-pymodbus (3.0.x API), for the Docker regression kit and the tests.

Usage: /usr/bin/python3 server.py HOST [PORT] [--unit N] [--counter] [--model NAME] [--product NAME] [--exit-on-stdin-eof]
  PORT      default 502; 0 = any free port. "ready <port>" is printed on stdout once it accepts connections.
  --unit    the unit id that answers (default 1); requests to any other unit id get no answer
  --counter holding register 0 counts up once a second (the essential function a monitor watches), as the
            Docker kit's posture has it; without it, it holds 100 like the others
  --exit-on-stdin-eof   also stop when stdin closes (a test's child process); otherwise only on SIGTERM/SIGINT

Fixed posture (docs/docker.md): plain Modbus/TCP, no authentication or authorisation of any kind (the
protocol has none). The unit has 100 holding registers (100 + address, writable by anyone), 100 input
registers (200 + address), 64 coils (every third set), 64 discrete inputs (every second set), and the device
identification below (function 43/14).
"""
import argparse
import asyncio
import signal
import sys

from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
from pymodbus.device import ModbusDeviceIdentification
from pymodbus.server.async_io import ModbusTcpServer


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="pymodbus Modbus/TCP server with a fixed posture")
    parser.add_argument("host")
    parser.add_argument("port", nargs="?", type=int, default=502)
    parser.add_argument("--unit", type=int, default=1)
    parser.add_argument("--counter", action="store_true")
    parser.add_argument("--model", default="docker-sim")
    parser.add_argument("--product", default="pymodbus server (iacs-probe Docker regression kit)")
    parser.add_argument("--exit-on-stdin-eof", action="store_true")
    return parser.parse_args()


async def count(store: ModbusSlaveContext) -> None:
    """Holding register 0 increments every second (wrapping at 16 bits), like a PLC's cycle counter."""
    while True:
        await asyncio.sleep(1)
        value = store.getValues(3, 0, 1)[0]
        store.setValues(3, 0, [(value + 1) & 0xFFFF])


async def main() -> None:
    args = arguments()
    store = ModbusSlaveContext(
        hr=ModbusSequentialDataBlock(0, [0 if args.counter else 100] + [100 + i for i in range(1, 100)]),
        ir=ModbusSequentialDataBlock(0, [200 + i for i in range(100)]),
        co=ModbusSequentialDataBlock(0, [i % 3 == 0 for i in range(64)]),
        di=ModbusSequentialDataBlock(0, [i % 2 == 0 for i in range(64)]),
        zero_mode=True,
    )
    context = ModbusServerContext(slaves={args.unit: store}, single=False)
    identity = ModbusDeviceIdentification(info_name={
        "VendorName": "pymodbus",
        "ProductCode": "PM",
        "MajorMinorRevision": "3.0.0",
        "VendorUrl": "https://github.com/pymodbus-dev/pymodbus",
        "ProductName": args.product,
        "ModelName": args.model,
    })
    server = ModbusTcpServer(context, identity=identity, address=(args.host, args.port))
    serving = asyncio.create_task(server.serve_forever())
    counter = asyncio.create_task(count(store)) if args.counter else None
    await server.serving
    bound = server.server.sockets[0].getsockname()[1]
    print(f"ready {bound}", flush=True)
    print(f"pymodbus Modbus/TCP server on {args.host}:{bound}, unit {args.unit}", file=sys.stderr, flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if args.exit_on_stdin_eof:
        loop.add_reader(sys.stdin.fileno(), lambda: stop.set() if not sys.stdin.buffer.read1(1024) else None)
    await stop.wait()
    if counter:
        counter.cancel()
    await server.server_close()
    serving.cancel()


if __name__ == "__main__":
    asyncio.run(main())
