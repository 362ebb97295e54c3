"""The built-in ``human`` version: people decide, through the feedback/review API.

Routing to ``human`` answers with no prediction (``status: pending_human``); the human
decision arrives later as the request's label. An ML version mirrored next to it runs
in shadow, so human-vs-model agreement can be measured before the model takes over.
"""

from __future__ import annotations

from typing import Any

from rampup.registry.predictor import FeatureBatch, PredictionBatch
from rampup.registry.schema import InputSchema, OutputSpec
from rampup.store import VersionRecord

HUMAN = "human"


class HumanPredictor:
    flavor = "human"
    input_schema = InputSchema.any()
    output = OutputSpec(kind="free")

    def predict(self, batch: FeatureBatch) -> PredictionBatch:
        return PredictionBatch([None] * batch.n)


def human_record(model: str, input_schema: dict[str, Any] | None = None) -> VersionRecord:
    """The pseudo-version's record; ``input_schema`` (default: anything) is what its
    requests are validated and decoded against (see :func:`media_schema`)."""
    return VersionRecord(model=model, version=HUMAN, seq=0, flavor="human", artifact_uri="",
                         artifact_hash="",
                         input_schema=input_schema or InputSchema.any().to_dict(),
                         output=OutputSpec(kind="free").to_dict(), profile=None, metadata={},
                         created_at=0.0, created_by="rampup")


def media_schema(versions: list[VersionRecord]) -> dict[str, Any] | None:
    """The input schema of the newest version that takes images or audio, if any: people
    deciding for such a model see the photo and hear the clip, so their requests are
    decoded like the model's (the log then holds hashes and input metrics, never the
    bytes as text, and review items carry the media). None: accept anything, as before.

    >>> from rampup.serving.human import human_record
    >>> rec = human_record("m", {"features": [{"name": "photo", "dtype": "image"}]})
    >>> media_schema([rec])["features"][0]["dtype"]
    'image'
    >>> media_schema([human_record("m")]) is None
    True
    """
    for record in sorted(versions, key=lambda v: v.seq, reverse=True):
        feats = (record.input_schema or {}).get("features") or []
        if any(f.get("dtype") in ("image", "audio") for f in feats):
            return dict(record.input_schema)
    return None
