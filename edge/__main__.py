"""Allow `python -m edge` as an alias of the `moodsense` command."""

from edge.cli import main

raise SystemExit(main())
