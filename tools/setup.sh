#!/usr/bin/env bash
# Installs everything the project and its tests need on a fresh Debian 12 machine (as root):
# the Debian peers the tests interoperate with, then the pinned npm packages (Deno included).
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends \
    tor kcptun pebble snowflake-client snowflake-proxy wireguard-go wireguard-tools \
    iperf3 libsodium23 iproute2 iputils-ping tcpdump chromium coturn libusrsctp2 libusrsctp-examples \
    openssl curl ca-certificates python3 procps \
    dante-server tinyproxy nftables tshark haproxy >/dev/null
else
  echo "setup: not root or no apt-get; skipping Debian packages" >&2
fi
npm ci --no-audit --no-fund --loglevel=error
echo "setup: done ($(node_modules/@deno/linux-x64-glibc/deno --version | head -1))"
