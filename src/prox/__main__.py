"""`python -m prox` runs the command line."""

import sys

from prox.cli import main

sys.exit(main())
