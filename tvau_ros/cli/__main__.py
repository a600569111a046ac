"""``python -m tvau_ros.cli``: the ``tvau`` command where the console script is not installed."""
import sys

from tvau_ros.cli import main

sys.exit(main())
