#!/usr/bin/env bash
# Installs what the telemetry tests compare Bypass with: DPDK's own telemetry client
# dpdk-telemetry.py and dpdk-testpmd (package dpdk-dev, with dpdk), and tcpdump, which reads
# dumpcap's pcapng files back, from Debian's packages.
# Idempotent: does nothing when dpdk-telemetry.py and dpdk-testpmd are there already. Root only;
# as another user it says so and exits 0 (the tests then skip with a note).
set -euo pipefail
if command -v dpdk-telemetry.py >/dev/null && command -v dpdk-testpmd >/dev/null && command -v tcpdump >/dev/null; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "note: not root: cannot install dpdk and dpdk-dev (the telemetry tests that need them skip)" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -q --no-install-recommends dpdk dpdk-dev tcpdump; then
    apt-get update -q
    apt-get install -y -q --no-install-recommends dpdk dpdk-dev tcpdump
fi
