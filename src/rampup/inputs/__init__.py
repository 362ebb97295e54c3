"""Unstructured inputs (image, audio, text, tensor, embedding): decoding with limits
(:mod:`.media`), per-feature checks (:mod:`.checks`), input metrics (:mod:`.metrics`) and
batch manifests and folders (:mod:`.files`). Pure of the store and the web."""
