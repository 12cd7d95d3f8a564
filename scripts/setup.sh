#!/usr/bin/env bash
# Set up a fresh Debian / Raspberry Pi OS machine: Debian packages, then .venv with the
# project installed from pinned versions. Safe to re-run; a no-op when nothing changed.
#   scripts/setup.sh          runtime only
#   scripts/setup.sh --dev    plus test, lint and type-check tools (and mosquitto)
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
[[ "${1:-}" == "--dev" ]] && dev=1

packages=(libportaudio2)            # sounddevice's native library
# The tests start their own broker and database instances on free loopback ports.
# Chromium (Debian's) is what the browser tests drive; Playwright never downloads one.
(( dev )) && packages+=(mosquitto postgresql chromium strace shellcheck)
python3 -c "import ensurepip" 2>/dev/null || packages+=(python3-venv)

missing=()
for package in "${packages[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if (( ${#missing[@]} )); then
    echo "setup: installing Debian packages: ${missing[*]}"
    if [[ $(id -u) -eq 0 ]]; then sudo=(); elif command -v sudo >/dev/null; then sudo=(sudo); else
        echo "setup: need root (or sudo) to install: ${missing[*]}" >&2
        exit 1
    fi
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

[[ -x .venv/bin/python ]] || python3 -m venv .venv

extras=""
(( dev )) && extras="[dev]"
stamp=".venv/.setup-stamp"
wanted="$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)${extras}"
have="$(cat "$stamp" 2>/dev/null || true)"
# A dev install also satisfies a runtime request for the same pins.
if [[ "$have" != "$wanted" && "$have" != "${wanted}[dev]" ]]; then
    echo "setup: installing moodsense-edge${extras} into .venv"
    .venv/bin/pip install --quiet --disable-pip-version-check -c constraints.txt -e ".${extras}"
    .venv/bin/pip check
    echo "$wanted" > "$stamp"
fi
