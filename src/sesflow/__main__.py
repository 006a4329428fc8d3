"""``python -m sesflow`` runs the ``sesflow`` command."""

import sys

from .cli import main

sys.exit(main())
