"""`python -m micrograd ...`: the command line (see micrograd/cli/)."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
