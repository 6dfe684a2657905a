#!/usr/bin/env bash
# make-base-image.sh - builds a debian:bookworm-slim base image without any
# container registry: `debootstrap --variant=minbase bookworm`, trimmed the
# way Debian's slim images are, piped into `podman import` (or `docker
# import`). Used by the deploy test; an outlet with Docker Hub access does not
# need it (`docker compose build` pulls debian:bookworm-slim).
#
#   docker/make-base-image.sh [podman|docker] [IMAGE]
#
# Does nothing if IMAGE (docker.io/library/debian:bookworm-slim) already
# exists. Needs root and the debootstrap package.
set -euo pipefail

ENGINE="${1:-podman}"
IMAGE="${2:-docker.io/library/debian:bookworm-slim}"
MIRROR="${KB_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if "$ENGINE" image inspect "$IMAGE" >/dev/null 2>&1; then
    echo "make-base-image: $IMAGE already present" >&2
    exit 0
fi
[[ $(id -u) -eq 0 ]] || { echo "make-base-image: run as root (debootstrap)" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "make-base-image: apt-get install debootstrap" >&2; exit 1; }

root="$(mktemp -d /var/tmp/kb-rootfs.XXXXXX)"
trap 'rm -rf "$root"' EXIT
echo "make-base-image: debootstrap --variant=minbase bookworm (about a minute)" >&2
debootstrap --variant=minbase bookworm "$root" "$MIRROR" >"$root.log" 2>&1 ||
    { tail -20 "$root.log" >&2; rm -f "$root.log"; exit 1; }
rm -f "$root.log"

# Same suites as a Debian 12 host, so images get the security fixes (the
# broker is mosquitto 2.0.11-1.2+deb12uN, as on the test machines).
cat >"$root/etc/apt/sources.list" <<EOF
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
EOF
# Slim: no docs, man pages or translations from later installs; no recommends.
cat >"$root/etc/dpkg/dpkg.cfg.d/slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
cat >"$root/etc/apt/apt.conf.d/slim" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
EOF
find "$root/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete
find "$root/usr/share/man" "$root/usr/share/info" "$root/usr/share/locale" -mindepth 1 \
    ! -name locale.alias -delete 2>/dev/null || true
rm -rf "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
       "$root"/var/lib/apt/lists/* "$root"/var/log/* "$root"/tmp/*
: >"$root/etc/hostname"
: >"$root/etc/resolv.conf"

tar -C "$root" --numeric-owner -c . |
    "$ENGINE" import --change 'CMD ["bash"]' - "$IMAGE" >/dev/null
echo "make-base-image: imported $IMAGE" >&2
