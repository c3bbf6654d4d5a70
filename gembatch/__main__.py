"""``python -m gembatch`` runs the CLI."""

import sys

from gembatch.cli import main

sys.exit(main())
