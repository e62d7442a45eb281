#!/usr/bin/env bash
# Fetches a stock Debian kernel for the VM tests and unpacks it.
#
#   fetch-kernel.sh PKG CACHE_DIR
#
# PKG is a kernel metapackage (linux-image-amd64, linux-image-6.12-amd64) or a
# real image package (linux-image-6.1.0-56-amd64). The package is downloaded
# into CACHE_DIR/debs, unpacked into CACHE_DIR/kernels/<package>_<version>,
# and given a modules.dep (an unpacked package lacks it: its postinst would
# make it). Everything is cached: a second call does no download.
# Prints KERNEL=<vmlinuz>, MODULES=<dir holding <kver>/>, KVER=<kver>.
set -euo pipefail

die() { echo "fetch-kernel: $*" >&2; exit 1; }
log() { echo "fetch-kernel: $*" >&2; }

(($# == 2)) || die "usage: $0 PKG CACHE_DIR"
pkg=$1
mkdir -p "$2"
cache=$(cd "$2" && pwd -P)

command -v apt-cache >/dev/null || die "apt-cache not found (Debian host needed)"
command -v depmod >/dev/null || die "depmod not found: apt-get install kmod"

# Only one fetch at a time per cache (parallel test runs share it).
exec 9>"$cache/.fetch-kernel.lock"
flock 9

# Candidate version of a package from the local apt lists, empty if unknown.
candidate() {
  apt-cache policy "$1" 2>/dev/null | awk '$1 == "Candidate:" && $2 != "(none)" { print $2 }'
}

# The linux-image-* package that PKG depends on, or PKG itself when it has
# none (a real image package). Empty when apt does not know PKG.
image_dep() {
  apt-cache depends "$1" 2>/dev/null | awk -v self="$1" '
    NR == 1 { known = ($1 == self) }
    $1 ~ /^[|]?Depends:$/ && $2 ~ /^linux-image-/ { print $2; found = 1; exit }
    END { if (known && !found) print self }'
}

# A metapackage depends on one linux-image-<kver>-<flavour> package; follow
# the chain (apt-cache is slow here, ~1 s a call, so stop at a versioned name).
resolve() {
  local name=$1 next _
  for _ in 1 2 3 4; do
    next=$(image_dep "$name")
    [[ -n $next ]] || return 1
    [[ $next != "$name" ]] || break
    name=$next
    [[ ! $name =~ ^linux-image-[0-9] ]] || break
  done
  echo "$name"
}

# Apt lists may be missing on a fresh machine: refresh them once.
if ! real=$(resolve "$pkg"); then
  log "package $pkg unknown to apt-cache, running apt-get update"
  apt-get update -qq >&2 || die "apt-get update failed"
  real=$(resolve "$pkg") || die "package $pkg not found in the apt lists"
fi
version=$(candidate "$real")
[[ -n $version ]] || die "no installable version of $real (resolved from $pkg)"

unpacked="$cache/kernels/${real}_${version//:/%3a}"
stamp="$unpacked/.complete"

if [[ ! -e $stamp ]]; then
  mkdir -p "$cache/debs"
  deb=$(find "$cache/debs" -maxdepth 1 -name "${real}_${version//:/%3a}_*.deb" -print -quit)
  if [[ -z $deb ]]; then
    log "downloading $real $version"
    # apt-get download writes into the working directory; download into a
    # temporary directory so that an interrupted download leaves no half file.
    tmp=$(mktemp -d "$cache/debs/.dl.XXXXXX")
    # apt downloads as user _apt when it can write there (else it warns).
    chown _apt "$tmp" 2>/dev/null || true
    (cd "$tmp" && apt-get download -q "$real=$version" >&2) ||
      { rm -rf "$tmp"; die "apt-get download $real=$version failed"; }
    deb=$(find "$tmp" -maxdepth 1 -name '*.deb' -print -quit)
    [[ -n $deb ]] || { rm -rf "$tmp"; die "apt-get download produced no .deb"; }
    mv "$deb" "$cache/debs/"
    deb="$cache/debs/$(basename "$deb")"
    rm -rf "$tmp"
  fi
  log "unpacking $(basename "$deb")"
  rm -rf "$unpacked"
  mkdir -p "$unpacked"
  dpkg-deb -x "$deb" "$unpacked"
fi

# Newer packages install under usr/lib/modules (merged /usr).
moddir=
for d in "$unpacked/lib/modules" "$unpacked/usr/lib/modules"; do
  if [[ -d $d && ! -L $d ]]; then moddir=$d; break; fi
done
[[ -n $moddir ]] || die "no lib/modules in $unpacked"
kvers=("$moddir"/*/)
((${#kvers[@]} == 1)) || die "expected one kernel version in $moddir, found ${#kvers[@]}"
kver=$(basename "${kvers[0]}")
kernel="$unpacked/boot/vmlinuz-$kver"
[[ -f $kernel ]] || die "no $kernel in $real"

if [[ ! -e $stamp ]]; then
  # depmod -b takes the directory that holds lib/modules.
  log "depmod $kver"
  depmod -b "${moddir%/lib/modules}" "$kver"
  [[ -s $moddir/$kver/modules.dep ]] || die "depmod made no modules.dep"
  touch "$stamp"
fi

echo "KERNEL=$kernel"
echo "MODULES=$moddir"
echo "KVER=$kver"
