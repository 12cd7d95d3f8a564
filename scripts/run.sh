#!/usr/bin/env bash
# Set up (if needed) and run the service. Arguments go to `moodsense run`,
# e.g. scripts/run.sh --config /etc/moodsense/edge.yaml
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/moodsense run "$@"
