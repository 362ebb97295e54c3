"""The built-in ``human`` version: people decide, through the feedback/review API.

Routing to ``human`` answers with no prediction (``status: pending_human``); the human
decision arrives later as the request's label. An ML version mirrored next to it runs
in shadow, so human-vs-model agreement can be measured before the model takes over.
"""

from __future__ import annotations

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


def human_record(model: str) -> VersionRecord:
    return VersionRecord(model=model, version=HUMAN, seq=0, flavor="human", artifact_uri="",
                         artifact_hash="", input_schema=InputSchema.any().to_dict(),
                         output=OutputSpec(kind="free").to_dict(), profile=None, metadata={},
                         created_at=0.0, created_by="rampup")
