#!/usr/bin/env bash
# Installs exactly the Debian packages kmend builds, tests and demos against.
# Idempotent: when every package is already present it installs nothing and
# does not touch the network.
set -euo pipefail

PACKAGES=(
  bazel-bootstrap            # Bazel 4.2.3, builds offline with the stand-ins in third_party/
  g++                        # the C++ toolchain Bazel auto-configures
  protobuf-compiler libprotobuf-dev
  protobuf-compiler-grpc libgrpc++-dev
  libabsl-dev
  libcli11-dev
  nlohmann-json3-dev         # JSON output of every tool (--format=json)
  libzstd-dev
  liblz4-dev                 # reads LZ4-compressed WAL segments written by Kudu
  libisal-dev                # CRC32C (crc32_iscsi)
  libtcmalloc-minimal4       # the servers' allocator (third_party/system:tcmalloc)
  libgtest-dev libgmock-dev
  libbenchmark-dev
  iproute2 nftables          # network namespaces and packet cuts (testing/nemesis)
  clang libclang-rt-14-dev   # libFuzzer and sanitizers (config :fuzz)
  etcd-server etcd-client    # etcd 3.4 for scripts/bench-vs-etcd.sh (bench/etcd)
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: must run as root to install packages" >&2
  exit 2
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
