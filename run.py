#!/usr/bin/env python3
"""coreemu's command line: ``python run.py --help`` lists the commands."""

import sys

from emulator.cli import main

if __name__ == "__main__":
    sys.exit(main())
