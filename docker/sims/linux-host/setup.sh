#!/bin/sh
# Build-time half of the Linux host simulator (docker/sims/linux-host/Dockerfile): the packages, accounts and
# configuration files of one posture. Passwords are set at start (entrypoint.sh), so that their age counts
# from the container's start, not from the day the cached image was built.
#
# usage: setup.sh weak|hardened
set -eu
posture=${1:?weak or hardened}
# Both: sshd, ss (iproute2) for host.audit's listener check.
common="openssh-server iproute2"
case "$posture" in
  weak) packages="$common inetutils-inetd inetutils-telnetd" ;;
  hardened) packages="$common sudo libpam-pwquality cracklib-runtime auditd aide chrony" ;;
  *) echo "linux-host setup: no posture $posture (weak | hardened)" >&2; exit 2 ;;
esac
apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $packages >/dev/null
rm -rf /var/lib/apt/lists/* /etc/ssh/ssh_host_* /etc/ssh/sshd_config.d/*
# inetd is started by the entrypoint with a configuration of its own (the container's address only).
rm -f /etc/inetd.conf

# Ageing written before the accounts are made, so that useradd copies it into /etc/shadow.
set_login_def() { sed -i -E "s/^$1[[:space:]].*/$1\t$2/" /etc/login.defs; grep -qE "^$1[[:space:]]+$2\$" /etc/login.defs; }

case "$posture" in
  weak)
    # Debian's defaults, stated: no ageing (PASS_MAX_DAYS 99999), no quality module (pam_unix alone).
    set_login_def PASS_MAX_DAYS 99999
    set_login_def PASS_MIN_DAYS 0
    if grep -q pam_pwquality /etc/pam.d/common-password; then echo "linux-host setup: pam_pwquality on the weak host" >&2; exit 2; fi
    useradd --create-home --shell /bin/bash --no-user-group operator
    # A second uid-0 account ("toor": root under another name) and a guest account whose password is empty.
    useradd --non-unique --uid 0 --gid 0 --no-create-home --home-dir /root --shell /bin/sh --comment 'maintenance' toor
    useradd --create-home --shell /bin/sh --no-user-group --comment 'guest' guest
    ;;
  hardened)
    set_login_def PASS_MAX_DAYS 90
    set_login_def PASS_MIN_DAYS 1
    # libpam-pwquality's pam-auth-update profile put pam_pwquality into common-password; the length is set here.
    grep -q '^password.*pam_pwquality\.so' /etc/pam.d/common-password
    sed -i -E 's/^#? *minlen *=.*/minlen = 14/' /etc/security/pwquality.conf
    grep -q '^minlen = 14$' /etc/security/pwquality.conf
    # auditd is installed and configured but not started: a container may not drive the kernel's audit
    # subsystem. Storage: rotate at the size limit, a syslog warning at the threshold, rotate when the disk is
    # full (neither suspend, which loses records, nor halt, which stops the essential function).
    sed -i -E -e 's/^max_log_file_action = .*/max_log_file_action = ROTATE/' -e 's/^space_left_action = .*/space_left_action = SYSLOG/' \
      -e 's/^admin_space_left_action = .*/admin_space_left_action = ROTATE/' -e 's/^disk_full_action = .*/disk_full_action = ROTATE/' \
      -e 's/^disk_error_action = .*/disk_error_action = SYSLOG/' /etc/audit/auditd.conf
    grep -q '^disk_full_action = ROTATE$' /etc/audit/auditd.conf
    # No systemd in the image: journald's limit is configuration only (what host.audit reads).
    mkdir -p /etc/systemd
    printf '[Journal]\nStorage=persistent\nSystemMaxUse=500M\n' >/etc/systemd/journald.conf
    # chrony's configuration names the bench's time source; chronyd is not started (no time server on the
    # kit's internal network, and a container may not set the clock).
    printf 'server ntp.bench.invalid iburst\ndriftfile /var/lib/chrony/chrony.drift\nmakestep 1 3\nrtcsync\n' >/etc/chrony/chrony.conf
    useradd --create-home --shell /bin/bash --no-user-group --comment 'host administrator' opsadmin
    useradd --create-home --shell /bin/bash --no-user-group --comment 'operator' operator
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin historian
    # The administrator may run exactly the root-only reads of host.audit without a password (sudo -n).
    printf '%s\n' 'opsadmin ALL=(root) NOPASSWD: /usr/bin/grep -H . /etc/shadow, /usr/bin/grep -H . /etc/audit/auditd.conf, /usr/sbin/sshd -T' \
      >/etc/sudoers.d/iacs-host-audit
    chmod 0440 /etc/sudoers.d/iacs-host-audit
    visudo -c >/dev/null
    ;;
esac
