"""The in-process Chalice test client, kept away from .chalice/config.json.

``chalice.test.Client`` loads the project's config and puts the chosen stage's
environment variables (the ``dev`` stage by default: a real table name, a real
KMS alias) into ``os.environ`` around every request. Tests configure the app
through their own environment, so the client is pointed at a directory with no
config: what a test sets is what the app sees.
"""
from __future__ import annotations

from pathlib import Path

from chalice import Chalice
from chalice.test import Client

_NO_CHALICE_PROJECT = str(Path(__file__).parent)


def app_client(app: Chalice) -> Client:
    return Client(app, project_dir=_NO_CHALICE_PROJECT)
