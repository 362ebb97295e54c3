"""``rampup serve --workers N``: each worker process rebuilds the app from the environment."""

from __future__ import annotations

import os

from fastapi import FastAPI

from rampup.config import load_settings
from rampup.serving.app import create_app


def app_from_env() -> FastAPI:
    settings, project = load_settings(os.environ.get("RAMPUP_PROJECT_DIR"))
    return create_app(settings, project)
