"""`python -m micrograd ...`: the command line (see micrograd/cli.py)."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
