# Shortcuts; the scripts are the source of truth (and what the README and CI run).
.PHONY: setup lint type test run bench schemas

setup:
	bash scripts/setup.sh --dev

lint: setup
	.venv/bin/ruff format --check edge tests bench models
	.venv/bin/ruff check edge tests bench models

type: setup
	.venv/bin/mypy edge

test:
	bash scripts/test.sh

run:
	bash scripts/run.sh

bench: setup
	.venv/bin/python bench/mqtt_publish.py --json

schemas: setup
	.venv/bin/moodsense contract export docs/schemas
