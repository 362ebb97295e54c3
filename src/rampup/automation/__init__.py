"""Degrees of automation (human only → shadow → AI assistance → partial → full) and the
human review queue: levels, confidence, review items, label consistency, advice."""
