#!/bin/bash
# install-deps.sh - install the Debian packages vmrun needs (host and images).
#
# Reads deps.txt (host: build, run, test) and images/deps.txt (kernel and
# image builds), skips what is already installed, and apt-get installs the
# rest. Needs root. Safe to re-run: does nothing when all are present.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mapfile -t wanted < <(cat "$here/../deps.txt" "$here/deps.txt" 2>/dev/null |
    sed 's/#.*//' | tr -s ' \t' '\n' | grep -v '^$' | sort -u)

missing=()
for p in "${wanted[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
    echo "deps: all ${#wanted[@]} packages present"
    exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
    echo "deps: missing packages: ${missing[*]}; run as root (sudo make deps)" >&2
    exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: installed ${#missing[@]} packages"
