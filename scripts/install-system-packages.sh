#!/usr/bin/env bash
# The system packages the tests drive, each with the command that shows it is there. The one list:
# .ci/run installs from it, and the test run checks it before any test starts.
#
#   scripts/install-system-packages.sh          installs the missing ones (Debian, as root)
#   scripts/install-system-packages.sh --check  names the missing ones and the command that installs
#                                               them; exits 1 when any is missing, 0 otherwise
set -euo pipefail

# Debian package, then a command it installs.
packages=(
  "chromium chromium"
  "firefox-esr firefox-esr"
  "wireguard-go wireguard-go"
  "wireguard-tools wg"
  "tshark tshark"
  "iproute2 ip"
  "iputils-ping ping"
  "nftables nft"
  "libnss3-tools certutil"
  "python3 python3"
  "util-linux unshare"
  "curl curl"
  "jq jq"
  "systemd systemd-analyze"
  "pebble pebble"
  "openssh-server sshd"
  "openssh-client ssh-keygen"
  "openssl openssl"
  "vim vim"
  "dnsmasq-base dnsmasq"
  "jupyter-notebook jupyter-notebook"
  "syncthing syncthing"
  "prometheus prometheus"
)

missing=()
commands=()
for entry in "${packages[@]}"; do
  read -r package command <<<"$entry"
  # Commands in sbin count even when sbin is not on PATH (a non-root shell on Debian).
  if ! PATH="$PATH:/usr/sbin:/sbin" command -v "$command" >/dev/null 2>&1; then
    missing+=("$package")
    commands+=("$command")
  fi
done

if [[ "${1:-}" == "--check" ]]; then
  ((${#missing[@]} == 0)) && exit 0
  printf 'The tests need system tools that are missing: %s (Debian packages: %s).\n' \
    "${commands[*]}" "${missing[*]}" >&2
  printf 'Install them, as root, with:\n\n  sudo bash scripts/install-system-packages.sh\n\n' >&2
  printf 'The test suite also runs as root: it creates network namespaces and TUN devices.\n' >&2
  exit 1
fi

if ((${#missing[@]} == 0)); then
  echo "system packages: all installed"
  exit 0
fi
[[ "$(id -u)" -eq 0 ]] || { echo "run as root to install: ${missing[*]}" >&2; exit 1; }
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# tshark's wireshark-common asks whether non-root users may capture; we capture as root.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
