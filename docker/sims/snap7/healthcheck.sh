#!/bin/sh
# Healthy once the server confirms a COTP connection request on 102 (the image's node sends one and reads the
# CC); then only a marker file is checked, so that the check opens nothing while the harness assesses it.
marker=/run/iacs-sim.healthy
[ -f "$marker" ] && exit 0
ip=$(container-ip) || exit 1
node -e '
const s = require("node:net").connect(102, process.argv[1]);
const cr = Buffer.from("0300001611e00000000100c0010ac1020100c2020102", "hex");
s.setTimeout(2000, () => process.exit(1));
s.on("error", () => process.exit(1));
s.on("connect", () => s.write(cr));
s.on("data", (d) => { s.destroy(); process.exit(d.length > 5 && d[5] === 0xd0 ? 0 : 1); });
' "$ip" || exit 1
date -u +%FT%TZ >"$marker"
