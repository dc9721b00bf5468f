"""The OUI registry loads once, even when many threads ask for a manufacturer at the same moment."""

from __future__ import annotations

import subprocess
import sys


def test_concurrent_first_lookups_in_a_fresh_process_all_succeed():
    # A fresh interpreter, so the registry is not loaded yet; 16 threads race for the first lookup.
    script = """
import threading
from devices.macs import manufacturer_of
results, errors = [], []
barrier = threading.Barrier(16)
def look():
    barrier.wait()
    try:
        results.append(manufacturer_of("f0:18:98:00:00:01"))
    except Exception as exc:
        errors.append(repr(exc))
threads = [threading.Thread(target=look) for _ in range(16)]
for thread in threads: thread.start()
for thread in threads: thread.join()
assert not errors, errors
assert results == ["Apple, Inc."] * 16, results
"""
    for _ in range(3):
        subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
