"""Request ids: 32 hex characters, time-ordered (index-friendly), random in the low bits.

>>> a, b = new_id(), new_id()
>>> len(a), a != b
(32, True)
"""

from __future__ import annotations

import os
import time

#: the largest row id (and revision) the store's integer columns hold on PostgreSQL
#: (``integer`` is 32-bit there; a larger one in a query raised DataError: a 500)
MAX_ROW_ID = 2**31 - 1


def new_id() -> str:
    return f"{time.time_ns() // 1_000_000:012x}{os.urandom(10).hex()}"
