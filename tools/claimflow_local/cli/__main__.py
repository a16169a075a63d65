"""``python -m claimflow_local.cli`` (the ``./claimflow`` script)."""

import sys

from claimflow_local.cli import main

sys.exit(main())
