"""`python -m locust_mlstress.servers.faultproxy --upstream http://127.0.0.1:PORT ...`: run the fault proxy."""

import sys

from locust_mlstress.servers.faultproxy.cli import main

if __name__ == "__main__":
    sys.exit(main(prog="python -m locust_mlstress.servers.faultproxy"))
