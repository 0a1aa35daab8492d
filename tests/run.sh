#!/usr/bin/env bash
# The whole test suite: host unit and integration tests (real processes, real hugepages and
# --no-huge), then the QEMU guest tests. Prepares the machine first when run as root:
# hugepages, QEMU and the guest kernel (Debian packages). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" = 0 ]; then
    want=${BYPASS_HUGEPAGES:-512}
    if [ "$(cat /proc/sys/vm/nr_hugepages)" -lt "$want" ]; then
        echo "$want" > /proc/sys/vm/nr_hugepages
    fi
    mkdir -p /dev/hugepages
    mountpoint -q /dev/hugepages || mount -t hugetlbfs -o pagesize=2M nodev /dev/hugepages
    if [ -x tools/vmtest/setup-host.sh ] || [ -f tools/vmtest/setup-host.sh ]; then
        bash tools/vmtest/setup-host.sh
    fi
else
    echo "note: not root: hugepages are not set up here; tests that need them will say so" >&2
fi

# Binaries that tests start as real processes (examples, workers); static binaries for the
# QEMU guest; then all tests (host and guest).
cargo build --workspace --release --bins
RUSTFLAGS='-C target-feature=+crt-static' cargo build --target x86_64-unknown-linux-gnu -p vmtest --bin vfio_probe
RUSTFLAGS='-C target-feature=+crt-static' cargo build --target x86_64-unknown-linux-gnu -p devbind --bin devbind
RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --target x86_64-unknown-linux-gnu -p tests \
    --bin guest_e1000 --bin guest_pci --bin guest_igb --bin guest_virtio
RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --target x86_64-unknown-linux-gnu -p examples \
    --bin l2fwd --bin client_server_mp --bin symmetric_mp
# Host tests first (minutes), then the QEMU guest tests one guest at a time: two TCG guests on
# a two-core host starve each other's vCPUs. The guest kernel and busybox are fetched first.
cargo test --workspace --release --exclude vmtest
target/release/vmtest assets
cargo test --release -p vmtest -- --test-threads=1
