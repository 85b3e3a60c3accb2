"""``python -m streamcore``: the same as the ``streamcore`` command."""

import sys

from .cli import main

sys.exit(main())
