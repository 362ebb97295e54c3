"""Task metrics beyond classification and regression: transcription (WER/CER), ranking
(MRR, recall@k, NDCG@k, mAP@k) and detection (mAP at IoU 0.5), behind one interface
(:class:`~rampup.tasks.family.TaskFamily`) that evaluation, slices, error analysis,
audits, rollout checks and monitoring share."""

from rampup.tasks.detection import detection_ap, detection_map, iou
from rampup.tasks.family import TASKS, TaskFamily, family, parse_value
from rampup.tasks.ranking import ranking_metrics
from rampup.tasks.transcription import cer, wer

task_family = family  # the name under which ``rampup`` exports it

__all__ = ["TASKS", "TaskFamily", "cer", "detection_ap", "detection_map", "family", "iou",
           "parse_value", "ranking_metrics", "task_family", "wer"]
