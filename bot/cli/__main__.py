"""``python -m bot.cli``: the ``spreadwatch`` command line without the installed script."""

import sys

from bot.cli.main import main

sys.exit(main())
