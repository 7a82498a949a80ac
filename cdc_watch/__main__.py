"""`python -m cdc_watch` runs the CLI."""

import sys

from cdc_watch.cli import main

sys.exit(main())
