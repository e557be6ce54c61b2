"""``python -m dynagate.cli``: the ``dynagate`` command."""

from . import main

raise SystemExit(main())
