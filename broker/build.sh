#!/usr/bin/env bash
# broker/build.sh OUT: the Kitchen Bus broker, installed as OUT/mosquitto.
#
# It is Debian's own Mosquitto, rebuilt from Debian's source packages with one
# change of build option and two small patches, because Debian's binary stalls
# WebSocket clients (docs/BENCHMARKS.md "The WebSocket tail"):
#   - libwebsockets (Debian's source package of the installed
#     libwebsockets-dev) is built static with LWS_WITH_EXTERNAL_POLL, which
#     Mosquitto 2.0's WebSocket integration depends on and Debian leaves out;
#   - mosquitto (Debian's source package of the installed mosquitto, Debian's
#     own patches applied by dpkg-source) is built against it, with
#     broker/patches/*.patch on top (a WebSocket still upgrading wakes the loop;
#     fewer epoll system calls per packet).
# Only the broker binary is built. The dynamic-security plugin, mosquitto_ctrl,
# mosquitto_sub and the mosquitto user stay those of Debian's packages, of the
# same version, so the plugin's ABI is the broker's.
#
# Invariants:
#   - The sources are Debian's, of exactly the installed versions: after
#     Debian updates mosquitto or libwebsockets-dev (a security fix), the next
#     build picks the new sources up by itself, because the versions are part
#     of the cache key.
#   - The machine's apt configuration is not touched. The deb-src entries are
#     derived from the machine's own deb entries into a private folder, so
#     whatever mirror or proxy the machine uses is the one used here.
#   - A build is cached under KB_BROKER_CACHE (default
#     ~/.cache/kitchen-bus/broker), keyed by both versions and the hash of this
#     script and the patches; a cached build is installed without network.
#   - OUT/mosquitto appears only complete (written beside, then renamed).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
die() { printf 'broker/build.sh: error: %s\n' "$*" >&2; exit 1; }
log() { printf 'broker/build.sh: %s\n' "$*" >&2; }

[[ $# -eq 1 ]] || die "usage: broker/build.sh OUT_DIR"
OUT="$1"

version_of() {
    dpkg-query -W -f='${Version}' "$1" 2>/dev/null ||
        die "Debian's $1 is not installed; fix: ./kitchen-bus deps (or apt-get install $1)"
}
MOSQ_VER="$(version_of mosquitto)"
LWS_VER="$(version_of libwebsockets-dev)"
# g++: Mosquitto's CMake project enables C++, although the broker is C.
for tool in dpkg-source dpkg-buildflags apt-get cmake make cc c++ patch sha256sum; do
    command -v "$tool" >/dev/null || die "$tool is missing; fix: ./kitchen-bus deps"
done

key="$( { echo "$MOSQ_VER $LWS_VER"; cat "$HERE/build.sh" "$HERE"/patches/*.patch; } |
        sha256sum | cut -c1-16)"
cache="${KB_BROKER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kitchen-bus/broker}/$key"

# Every build of the project runs this script: an OUT already holding this
# build is left as it is.
install_out() {
    cmp -s "$cache/mosquitto" "$OUT/mosquitto" 2>/dev/null && return 0
    mkdir -p "$OUT"
    install -m 0755 "$cache/mosquitto" "$OUT/.mosquitto.new"
    mv -f "$OUT/.mosquitto.new" "$OUT/mosquitto"
    printf 'mosquitto %s, libwebsockets %s (external poll), patches: %s\n' \
        "$MOSQ_VER" "$LWS_VER" "$(cd "$HERE/patches" && echo *.patch)" >"$OUT/mosquitto.build"
}
if [[ -x $cache/mosquitto ]]; then
    install_out
    exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
log "building Mosquitto $MOSQ_VER with libwebsockets $LWS_VER (external poll) from Debian's sources (about a minute)"

# deb-src twins of the machine's deb entries, in a private apt configuration.
apt_dir="$work/apt"
mkdir -p "$apt_dir/parts" "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
: >"$apt_dir/sources.list"
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -r $f ]] || continue
    sed -nE 's/^[[:space:]]*deb[[:space:]]/deb-src /p' "$f" >>"$apt_dir/sources.list"
done
for f in /etc/apt/sources.list.d/*.sources; do
    [[ -r $f ]] || continue
    sed -E 's/^Types:.*/Types: deb-src/' "$f" >"$apt_dir/parts/$(basename "$f")"
done
apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=$apt_dir/parts"
          -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
          -o "Debug::NoLocking=1" -o "APT::Sandbox::User=$(id -un)")
apt-get "${apt_opts[@]}" -qq update >"$work/apt.log" 2>&1 ||
    die "apt-get update for Debian's source packages failed (is the archive reachable?): $(tail -n1 "$work/apt.log")"
(cd "$work" && apt-get "${apt_opts[@]}" -qq source --download-only \
    "mosquitto=$MOSQ_VER" "libwebsockets=$LWS_VER" >>"$work/apt.log" 2>&1) ||
    die "Debian's sources of mosquitto $MOSQ_VER / libwebsockets $LWS_VER not found: $(tail -n1 "$work/apt.log"); fix: apt-get upgrade mosquitto libwebsockets-dev"

# apt checked the files against the signed Sources index; dpkg-source applies
# Debian's patches.
(cd "$work" && dpkg-source --no-check -x libwebsockets_*.dsc lws >/dev/null &&
               dpkg-source --no-check -x mosquitto_*.dsc mosq >/dev/null)
for p in "$HERE"/patches/*.patch; do
    patch -s -d "$work/mosq" -p1 <"$p" || die "patch $(basename "$p") does not apply to mosquitto $MOSQ_VER"
done

# Debian's hardening flags, as its own build uses them.
cflags="$(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS)"
ldflags="$(dpkg-buildflags --get LDFLAGS)"
jobs="$(nproc)"

cmake -S "$work/lws" -B "$work/lws/b" -DCMAKE_BUILD_TYPE=Release \
    -DLWS_WITH_EXTERNAL_POLL=ON -DLWS_WITH_SHARED=OFF -DLWS_WITH_STATIC=ON \
    -DLWS_WITHOUT_CLIENT=ON -DLWS_WITHOUT_TESTAPPS=ON -DLWS_WITH_MINIMAL_EXAMPLES=OFF \
    -DLWS_IPV6=ON -DLWS_WITH_ZLIB=OFF -DDISABLE_WERROR=ON \
    -DCMAKE_C_FLAGS="$cflags -fPIC -Wno-deprecated-declarations -Wno-error" \
    >"$work/lws.log" 2>&1 || die "libwebsockets configure failed: $(grep -m1 -A1 'CMake Error' "$work/lws.log" | tr '\n' ' ')"
make -C "$work/lws/b" -j"$jobs" websockets >>"$work/lws.log" 2>&1 ||
    die "libwebsockets build failed: $(grep -m1 -i error "$work/lws.log")"
# Mosquitto's CMake names the static library websockets_static.
ln -sf libwebsockets.a "$work/lws/b/lib/libwebsockets_static.a"

cmake -S "$work/mosq" -B "$work/mosq/b" -DCMAKE_BUILD_TYPE=Release \
    -DWITH_WEBSOCKETS=ON -DSTATIC_WEBSOCKETS=ON -DWITH_BUNDLED_DEPS=ON \
    -DWITH_CLIENTS=OFF -DWITH_APPS=OFF -DWITH_PLUGINS=OFF -DDOCUMENTATION=OFF \
    -DWITH_SYSTEMD=OFF -DWITH_SRV=OFF -DWITH_ADNS=ON \
    -DCMAKE_C_FLAGS="$cflags -I$work/lws/b/include -I$work/lws/include" \
    -DCMAKE_EXE_LINKER_FLAGS="$ldflags -L$work/lws/b/lib" \
    -DCMAKE_C_STANDARD_LIBRARIES="-lcap" \
    >"$work/mosq.log" 2>&1 || die "mosquitto configure failed: $(grep -m1 -A1 'CMake Error' "$work/mosq.log" | tr '\n' ' ')"
make -C "$work/mosq/b" -j"$jobs" mosquitto >>"$work/mosq.log" 2>&1 ||
    die "mosquitto build failed: $(grep -m1 -iE 'error|undefined' "$work/mosq.log")"
grep -q "not compiled with LWS_WITH_EXTERNAL_POLL" "$work/mosq.log" &&
    die "libwebsockets was built without external poll (the build's warning says so)"

mkdir -p "$cache"
install -m 0755 "$work/mosq/b/src/mosquitto" "$cache/.mosquitto.new"
mv -f "$cache/.mosquitto.new" "$cache/mosquitto"
install_out
log "built: $OUT/mosquitto"
