"""``python -m jaxdecay``: the ``jaxdecay`` command line (see :mod:`jaxdecay.cli`)."""

from jaxdecay.cli import main

raise SystemExit(main())
