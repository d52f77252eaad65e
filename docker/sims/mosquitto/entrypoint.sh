#!/bin/sh
# Starts mosquitto in the posture MOSQUITTO_POSTURE (anonymous | secure) on the container's address.
# secure: the password file (mosquitto_passwd) and a CA with a P-256 server certificate are made at start, so
# every container has its own keys; the passwords are the posture's fixed ones (profiles/docker/secrets.yaml).
# mosquitto starts as root and drops to its own user before it reads them: the files are made readable to it.
set -eu
ip=$(container-ip)
dir=/run/iacs-mosquitto
mkdir -p "$dir"
conf="$dir/mosquitto.conf"
case "$MOSQUITTO_POSTURE" in
  anonymous)
    cp /etc/iacs-sim/mosquitto.anonymous.conf "$conf"
    printf 'listener 1883 %s\n' "$ip" >>"$conf"
    ;;
  secure)
    cp /etc/iacs-sim/mosquitto.secure.conf "$conf"
    : >"$dir/passwd"
    mosquitto_passwd -b "$dir/passwd" operator 'Op3rator!Bench-2026'
    mosquitto_passwd -b "$dir/passwd" engineer 'Eng1neer!Bench-2026'
    cd "$dir"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -days 365 -subj '/CN=mosquitto-sim CA' \
      -addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign,cRLSign -keyout ca.key -out ca.crt 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$(hostname)" -keyout server.key -out server.csr 2>/dev/null
    printf 'subjectAltName=DNS:mosquitto-secure,DNS:%s,IP:%s\nextendedKeyUsage=serverAuth\n' "$(hostname)" "$ip" >server.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 -sha256 -extfile server.ext -out server.crt 2>/dev/null
    rm -f ca.key server.csr
    cat >>"$conf" <<CONF
listener 1883 $ip
allow_anonymous false
listener 8883 $ip
allow_anonymous false
password_file $dir/passwd
acl_file /etc/iacs-sim/acl
certfile $dir/server.crt
keyfile $dir/server.key
ciphers ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305
CONF
    ;;
  *)
    echo "mosquitto sim: no posture MOSQUITTO_POSTURE=${MOSQUITTO_POSTURE} (anonymous | secure)" >&2
    exit 2
    ;;
esac
chmod 0755 "$dir"
chmod 0644 "$dir"/*
echo "mosquitto (${MOSQUITTO_POSTURE}) on ${ip}" >&2
exec /usr/sbin/mosquitto -c "$conf"
