"""Batch predictions: score a CSV or Parquet file into a Parquet file, chunk by chunk.

>>> from rampup.batch import predict_batch, validate_frame
"""

from rampup.batch.reader import estimate_csv_rows, open_input
from rampup.batch.runner import BatchSummary, default_errors_path, predict_batch
from rampup.batch.validate import FrameValidation, Problem, validate_frame

__all__ = [
    "BatchSummary",
    "FrameValidation",
    "Problem",
    "default_errors_path",
    "estimate_csv_rows",
    "open_input",
    "predict_batch",
    "validate_frame",
]
