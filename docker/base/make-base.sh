#!/usr/bin/env bash
# Builds the local base image of the Docker regression kit when no image registry is reachable:
# Debian bookworm (debootstrap --variant=minbase) with this machine's Node 20 and npm copied in, the same
# layout as the public node:20-bookworm-slim (node and npm in /usr/local). Node needs only glibc and
# libstdc++, which minbase has.
#
#   docker/base/make-base.sh            # prints the image tag, e.g. iacs-probe-base:3f0c9a1e52d4b7c6
#
# The root file system is built once and cached as a tar file named by a hash of its inputs (this script,
# suite, variant, mirror, the node binary, npm's version); later runs only `docker import` it (or find the
# image already present). Needs root, debootstrap, and DOCKER_HOST (or the default socket) pointing at a
# running engine.
#
# Environment: IACS_BASE_CACHE (default /var/cache/iacs-probe/docker-base), IACS_DEBIAN_MIRROR (default
# http://deb.debian.org/debian), DOCKER (the docker client, default: Debian's /usr/bin/docker if present).
set -euo pipefail

SUITE=bookworm
VARIANT=minbase
MIRROR=${IACS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
CACHE=${IACS_BASE_CACHE:-/var/cache/iacs-probe/docker-base}
DOCKER=${DOCKER:-$( [ -x /usr/bin/docker ] && echo /usr/bin/docker || echo docker )}

die() { echo "make-base: $*" >&2; exit 2; }

[ "$(id -u)" = 0 ] || die "needs root (debootstrap)"
command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
node_bin=$(readlink -f "$(command -v node)") || die "no node on PATH"
node_version=$("$node_bin" --version)
case "$node_version" in
  v20.*) minor=${node_version#v20.}; minor=${minor%%.*}; [ "$minor" -ge 19 ] || die "node $node_version: 20.19 or later needed" ;;
  v2[2-9].*) ;;
  *) die "node $node_version: 20.19+ or 22+ needed" ;;
esac
npm_dir=$(cd "$(dirname "$(readlink -f "$(command -v npm)")")/.." && pwd) || die "no npm on PATH"
[ -f "$npm_dir/package.json" ] || die "cannot find npm's package folder (got $npm_dir)"
npm_version=$("$node_bin" -p "require('$npm_dir/package.json').version")
# This machine's npm registry and CA file go into the base's npm configuration (only npm's: the images'
# Node keeps its own CA list), so that `npm ci` in a build works behind the same TLS-inspecting proxy or
# mirror as here. No other npm setting (and no credential) is copied.
npm_registry=$(npm config get registry 2>/dev/null || true)
npm_cafile=$(npm config get cafile 2>/dev/null || true)
case "$npm_cafile" in ''|null|undefined) npm_cafile="" ;; esac
[ -z "$npm_cafile" ] || [ -f "$npm_cafile" ] || npm_cafile=""

hash=$( {
  sha256sum "$0" | cut -d' ' -f1
  echo "$SUITE $VARIANT $MIRROR"
  sha256sum "$node_bin" | cut -d' ' -f1
  echo "npm $npm_version $npm_registry"
  [ -z "$npm_cafile" ] || sha256sum "$npm_cafile" | cut -d' ' -f1
} | sha256sum | cut -c1-16)
tag="iacs-probe-base:$hash"

if "$DOCKER" image inspect "$tag" >/dev/null 2>&1; then
  echo "make-base: $tag is present (node $node_version, npm $npm_version)" >&2
  echo "$tag"
  exit 0
fi

mkdir -p "$CACHE"
tarball="$CACHE/base-$hash.tar"
if [ ! -f "$tarball" ]; then
  echo "make-base: building $tarball (debootstrap --variant=$VARIANT $SUITE $MIRROR, node $node_version, npm $npm_version)" >&2
  work=$(mktemp -d "$CACHE/.build-XXXXXX")
  trap 'rm -rf "$work"' EXIT
  rootfs="$work/rootfs"
  debootstrap --variant="$VARIANT" "$SUITE" "$rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
  install -m 0755 "$node_bin" "$rootfs/usr/local/bin/node"
  mkdir -p "$rootfs/usr/local/lib/node_modules"
  cp -a "$npm_dir" "$rootfs/usr/local/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  mkdir -p "$rootfs/usr/local/etc"
  {
    echo "# From the machine that built this base (docker/base/make-base.sh)."
    echo "registry = $npm_registry"
    if [ -n "$npm_cafile" ]; then
      install -D -m 0644 "$npm_cafile" "$rootfs/usr/local/share/iacs-probe/npm-ca.crt"
      echo "cafile = /usr/local/share/iacs-probe/npm-ca.crt"
    fi
  } >"$rootfs/usr/local/etc/npmrc"
  # As in Debian's official images: maintainer scripts never start services inside a build.
  printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
  chmod 755 "$rootfs/usr/sbin/policy-rc.d"
  # Nothing of this machine in the image: no host name, no apt archives, no logs.
  : >"$rootfs/etc/hostname"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/log/* "$rootfs"/tmp/*
  chroot "$rootfs" /usr/local/bin/node --version >/dev/null || die "node does not run inside the new root"
  tar --numeric-owner -C "$rootfs" -cf "$work/base.tar" .
  mv "$work/base.tar" "$tarball"
  # Older bases (other inputs) are of no further use.
  find "$CACHE" -maxdepth 1 -name 'base-*.tar' ! -name "base-$hash.tar" -delete
fi

"$DOCKER" import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["bash"]' \
  --message "iacs-probe local base: debian $SUITE $VARIANT, node $node_version, npm $npm_version" \
  "$tarball" "$tag" >/dev/null
echo "make-base: imported $tag from $tarball" >&2
echo "$tag"
