#!/bin/sh
# Install what tools/vmtest needs on a Debian 12 host. Run as root.
# Idempotent: a second run changes nothing and prints little.
set -eu

if [ "$(id -u)" -ne 0 ]; then
    echo "setup-host.sh: run as root (it uses apt-get)" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
SRC=/etc/apt/sources.list.d/bookworm-backports.sources
want='Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg'

changed=0
if [ ! -f "$SRC" ] || [ "$(cat "$SRC")" != "$want" ]; then
    printf '%s\n' "$want" > "$SRC"
    changed=1
fi

# The lists must know the backports kernel and QEMU; refresh when the source
# is new or when the backports lists are missing. Other third-party sources
# that cannot be reached must not stop us, so failures of update are only
# reported; the checks below decide.
have_lists() {
    ls /var/lib/apt/lists/ 2>/dev/null | grep -q 'bookworm-backports_main_binary-amd64_Packages'
}
if [ "$changed" = 1 ] || ! have_lists; then
    apt-get update -qq >/dev/null 2>&1 || echo "setup-host.sh: apt-get update reported errors (continuing)" >&2
fi
if ! have_lists; then
    echo "setup-host.sh: bookworm-backports lists missing after apt-get update" >&2
    exit 1
fi

# qemu-system-x86 from backports (QEMU 10: igb, intel-iommu, -netdev stream).
# dpkg-deb (dpkg) and gzip are essential packages; xz and cpio are not needed:
# the harness decompresses modules and writes the cpio itself.
if ! command -v qemu-system-x86_64 >/dev/null 2>&1; then
    log=$(mktemp)
    if ! apt-get install -y -q -t bookworm-backports --no-install-recommends \
        qemu-system-x86 >"$log" 2>&1; then
        tail -n 20 "$log" >&2
        rm -f "$log"
        echo "setup-host.sh: installing qemu-system-x86 from bookworm-backports failed" >&2
        exit 1
    fi
    rm -f "$log"
fi
command -v qemu-system-x86_64 >/dev/null 2>&1 || {
    echo "setup-host.sh: qemu-system-x86_64 still missing after install" >&2
    exit 1
}

# The no-IOMMU guests (tests without a virtual IOMMU) load VFIO modules rebuilt with
# CONFIG_VFIO_NOIOMMU, which Debian's kernels lack (`vmtest assets` builds them): that
# needs gcc, make and the headers of the guest kernel.
kpkg=${VMTEST_KERNEL_PACKAGE:-$(apt-cache depends -t bookworm-backports linux-image-cloud-amd64 2>/dev/null |
    sed -n 's/^ *Depends: <\{0,1\}\(linux-image-[^>]*-cloud-amd64\)>\{0,1\}$/\1/p' | head -n 1)}
if [ -z "$kpkg" ]; then
    echo "setup-host.sh: cannot name the guest kernel package (apt-cache depends linux-image-cloud-amd64)" >&2
    exit 1
fi
hdr="linux-headers-${kpkg#linux-image-}"
if [ ! -f "/usr/src/$hdr/Makefile" ] || ! command -v gcc >/dev/null 2>&1 || ! command -v make >/dev/null 2>&1; then
    log=$(mktemp)
    if ! apt-get install -y -q -t bookworm-backports --no-install-recommends \
        "$hdr" gcc make xz-utils >"$log" 2>&1; then
        tail -n 20 "$log" >&2
        rm -f "$log"
        echo "setup-host.sh: installing $hdr (for the no-IOMMU VFIO modules) failed" >&2
        exit 1
    fi
    rm -f "$log"
fi

# The static test binaries are built for this target.
if command -v rustup >/dev/null 2>&1; then
    rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-gnu ||
        rustup target add x86_64-unknown-linux-gnu >/dev/null 2>&1 || true
fi
exit 0
