"""Realtime serving: the ASGI app, request validation, routing, micro-batching."""
