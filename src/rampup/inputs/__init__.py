"""Unstructured inputs (image, audio, text, tensor, embedding): decoding with limits
(:mod:`.media`), per-feature checks (:mod:`.checks`), input metrics (:mod:`.metrics`) and
batch manifests and folders (:mod:`.files`). Pure of the store and the web."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rampup._exports import lazy_exports

_EXPORTS: dict[str, str] = {
    "ImageInput": "rampup.inputs.media",
    "AudioInput": "rampup.inputs.media",
    "decode_image": "rampup.inputs.media",
    "decode_audio": "rampup.inputs.media",
    "image_metrics": "rampup.inputs.metrics",
    "audio_metrics": "rampup.inputs.metrics",
    "text_metrics": "rampup.inputs.metrics",
}

__all__ = ["AudioInput", "ImageInput", "audio_metrics", "decode_audio", "decode_image",
           "image_metrics", "text_metrics"]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from rampup.inputs.media import AudioInput, ImageInput, decode_audio, decode_image
    from rampup.inputs.metrics import audio_metrics, image_metrics, text_metrics
