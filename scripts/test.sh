#!/usr/bin/env bash
# Set up (if needed) and run everything CI runs: format check, lint, types, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
echo "== ruff format --check"; .venv/bin/ruff format --check edge tests bench models
echo "== ruff check";          .venv/bin/ruff check edge tests bench models
echo "== mypy --strict edge, models.training"; .venv/bin/mypy -p edge -p models.training
echo "== pytest";              .venv/bin/python -m pytest
