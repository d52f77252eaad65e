"""Healthy once unit 1 answers a holding-register read; then only a marker file is checked, so that the
check opens no connections while the harness assesses the server."""
import datetime
import os
import subprocess
import sys

from pymodbus.client import ModbusTcpClient

MARKER = "/run/iacs-sim.healthy"
if os.path.exists(MARKER):
    sys.exit(0)
host = subprocess.run(["container-ip"], capture_output=True, text=True, check=True).stdout.strip()
client = ModbusTcpClient(host, port=502, timeout=2, retries=0)
try:
    if not client.connect():
        sys.exit(1)
    reply = client.read_holding_registers(0, 1, slave=1)
    if reply.isError():
        sys.exit(1)
finally:
    client.close()
with open(MARKER, "w", encoding="ascii") as f:
    f.write(datetime.datetime.now(datetime.timezone.utc).isoformat() + "\n")
