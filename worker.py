"""Temporal worker entry point: `python worker.py` is the same as `loyalflow worker`."""

from loyalflow.runtime.worker import main

if __name__ == "__main__":
    main()
