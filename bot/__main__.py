"""``python -m bot`` does what the ``lagesbild`` console script does."""

import sys

from bot.cli.main import main

sys.exit(main())
