"""``python -m screenpilot``: the command line."""

import sys

from screenpilot.agent.cli.main import main

sys.exit(main())
