"""Run by Python at start-up when this folder is on PYTHONPATH: the network guard in a child process."""
import os
import sys

if os.environ.get("THB_NETWORK_GUARD_LOG"):
    sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import network_guard

    network_guard.install()
