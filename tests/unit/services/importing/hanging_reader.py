"""A stand-in for the xlsx reader child (sandbox.py) that never finishes.

test_read.py points `read_workbook.CHILD_MODULE` here to show that a child which hangs is stopped at
the timeout, without racing a real parse against a short clock.
"""

from __future__ import annotations

import threading

if __name__ == "__main__":
    threading.Event().wait()  # blocks until the parent kills the process
