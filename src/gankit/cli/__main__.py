"""``python -m gankit.cli ...``: the command line, as ``python -m gankit``."""

import sys

from gankit.cli import main

sys.exit(main())
