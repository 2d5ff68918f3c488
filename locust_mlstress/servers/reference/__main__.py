"""`python -m locust_mlstress.servers.reference --profile PATH ...`: run the reference model server."""

import sys

from locust_mlstress.servers.reference.cli import main

if __name__ == "__main__":
    sys.exit(main())
