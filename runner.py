#!/usr/bin/env python3
"""kalshi_mm daemon entry point: ``python runner.py --config config.yaml`` (see ``--help``)."""

import sys

from kalshi_mm.app import main

if __name__ == "__main__":
    sys.exit(main())
