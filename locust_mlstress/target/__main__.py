"""`python -m locust_mlstress.target --profile PATH ...`: run the reference model server."""

import sys

from locust_mlstress.target.cli import main

if __name__ == "__main__":
    sys.exit(main())
