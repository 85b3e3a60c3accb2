"""``python -m streamcore.benchmark``: the same as ``streamcore bench``."""

import sys

from streamcore.benchmark import main

sys.exit(main())
