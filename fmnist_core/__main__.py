"""`python -m fmnist_core`: the command-line tool."""

import sys

from fmnist_core.cli import main

sys.exit(main())
