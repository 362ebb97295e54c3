"""Credentials, privacy of the prediction log, retention and erasure.

Pure logic lives here (token hashing, the privacy policy, retention plans); the store
keeps the rows (:mod:`rampup.store.credentials`, :mod:`rampup.store.predictions`) and the
HTTP edge enforces it (:mod:`rampup.serving.auth`, :mod:`rampup.serving.guard`).
"""
