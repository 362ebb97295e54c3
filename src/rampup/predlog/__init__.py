"""The prediction log: the background writer, feedback (labels and user events) and export."""
