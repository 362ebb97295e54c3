"""A free-form Python model for tests: echoes the text length, raises on 'boom'."""

from __future__ import annotations

from typing import Any


class Flaky:
    def predict(self, records: list[dict[str, Any]]) -> list[int]:
        out = []
        for r in records:
            if r.get("text") == "boom":
                raise RuntimeError("the model exploded on purpose")
            out.append(len(str(r.get("text", ""))))
        return out
