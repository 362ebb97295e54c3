"""Request ids: 32 hex characters, time-ordered (index-friendly), random in the low bits.

>>> a, b = new_id(), new_id()
>>> len(a), a != b
(32, True)
"""

from __future__ import annotations

import os
import time


def new_id() -> str:
    return f"{time.time_ns() // 1_000_000:012x}{os.urandom(10).hex()}"
