"""Allow `python -m jetzip`."""

import sys

from jetzip.cli.main import main

sys.exit(main())
