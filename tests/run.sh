#!/usr/bin/env bash
# The whole test suite: the code checks (fmt, clippy, doc), host unit and integration tests
# (real processes, real hugepages and --no-huge), then the QEMU guest tests. Prepares the
# machine first when run as root: hugepages, QEMU, DPDK's own tools (the peers some tests
# talk to) and the guest kernel (Debian packages).
# Safe to run again.
#
# One failure never hides the others: every step and every test binary runs (cargo's
# --no-fail-fast), and the run ends with one line `summary: N passed, N failed` that adds up
# every test binary's result line. It exits non-zero if a check, a build or a test failed.
set -uo pipefail
cd "$(dirname "$0")/.."

log_dir=$(mktemp -d "${TMPDIR:-/tmp}/bypass-tests.XXXXXX")
trap 'rm -rf "$log_dir"' EXIT
failed_steps=()

# Runs one step, tees its output into the log, remembers it when it fails.
step() {
    local name=$1
    shift
    echo "==> $name: $*"
    if ! "$@" 2>&1 | tee -a "$log_dir/all.log"; then
        echo "==> $name FAILED"
        failed_steps+=("$name")
        return 1
    fi
}

if [ "$(id -u)" = 0 ]; then
    want=${BYPASS_HUGEPAGES:-512}
    if [ "$(cat /proc/sys/vm/nr_hugepages)" -lt "$want" ]; then
        echo "$want" > /proc/sys/vm/nr_hugepages
    fi
    mkdir -p /dev/hugepages
    mountpoint -q /dev/hugepages || mount -t hugetlbfs -o pagesize=2M nodev /dev/hugepages
    step setup-host bash tools/vmtest/setup-host.sh
    step setup-dpdk bash tests/setup-dpdk.sh
else
    echo "note: not root: hugepages are not set up here; tests that need them will say so" >&2
fi

# The discipline the code claims: formatted, clippy-clean (with the crates' deny lints), and
# documentation that builds without warnings.
step fmt cargo fmt --all -- --check
step clippy cargo clippy --workspace --all-targets -- -D warnings
step doc env RUSTDOCFLAGS='-D warnings' cargo doc --workspace --no-deps

# Binaries that tests start as real processes (examples, workers); static binaries for the
# QEMU guest.
static=(env RUSTFLAGS='-C target-feature=+crt-static')
gnu=(--target x86_64-unknown-linux-gnu)
step build cargo build --workspace --release --bins
step build-guest-tools "${static[@]}" cargo build "${gnu[@]}" -p vmtest --bin vfio_probe -p devbind --bin devbind
step build-guest-tests "${static[@]}" cargo build --release "${gnu[@]}" -p tests \
    --bin guest_e1000 --bin guest_pci --bin guest_igb --bin guest_virtio --bin guest_rx_intr
step build-guest-samples "${static[@]}" cargo build --release "${gnu[@]}" -p examples \
    --bin l2fwd --bin client_server_mp --bin symmetric_mp --bin testpmd --bin l3fwd --bin hotplug_mp \
    -p dumpcap --bin dumpcap -p procinfo --bin procinfo

# Host tests first (minutes), then the QEMU guest tests one guest at a time: two TCG guests on
# a two-core host starve each other's vCPUs. The guest kernel and busybox are fetched first.
step host-tests cargo test --workspace --release --no-fail-fast --exclude vmtest
step guest-assets target/release/vmtest assets
step guest-tests cargo test --release --no-fail-fast -p vmtest -- --test-threads=1

# Add up cargo's per-binary lines: "test result: ok. 12 passed; 0 failed; 1 ignored; ...".
read -r passed failed < <(
    grep -aE '^test result: ' "$log_dir/all.log" |
        sed -E 's/.* ([0-9]+) passed; ([0-9]+) failed;.*/\1 \2/' |
        awk '{p += $1; f += $2} END {print p + 0, f + 0}'
)
if [ ${#failed_steps[@]} -gt 0 ]; then
    echo "failed steps: ${failed_steps[*]}"
    # A step that failed without a failing test (a build, a check, a crashed test binary)
    # still counts as a failure in the summary.
    if [ "$failed" = 0 ]; then
        failed=${#failed_steps[@]}
    fi
fi
echo "summary: $passed passed, $failed failed"
[ "$failed" = 0 ] && [ ${#failed_steps[@]} = 0 ]
