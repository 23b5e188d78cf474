#!/usr/bin/env bash
# Installs the Debian packages hop needs to build and test, when any is missing.
set -euo pipefail

packages=(build-essential cmake pkg-config libopenblas-dev zlib1g-dev libstb-dev
          libcjson-dev libcriterion-dev gnuplot-nox dataset-fashion-mnist)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

line="apt-get update && apt-get install -y ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
    echo "hop needs these Debian packages: ${missing[*]}" >&2
    echo "Run as root: $line" >&2
    exit 1
fi

echo "Installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}"
