"""A stand-in for the web app's Vite build, for tests that serve it without Node."""
from __future__ import annotations

from pathlib import Path

ASSET = "index-Bq3xY2_k.js"
INDEX = f'<!doctype html><html lang="en"><script type="module" src="/app/assets/{ASSET}"></script></html>'


def fake_build(folder: Path) -> Path:
    """``folder`` laid out as ``npm run build`` lays out chalicelib/webapp/dist; returns it."""
    (folder / "assets").mkdir(parents=True)
    (folder / "index.html").write_text(INDEX)
    (folder / "assets" / ASSET).write_text("console.log('katta')\n")
    (folder / "assets" / "index-Cd4.css").write_text("main{margin:0}\n")
    return folder


def serve_fake_build(monkeypatch, folder: Path) -> Path:
    """The app's web routes serve a fake build in ``folder`` for this test."""
    from chalicelib import deps
    from chalicelib.settings import get_settings
    from chalicelib.webapp.site import WebApp

    build = fake_build(folder)
    monkeypatch.setattr(deps, "web_app",
                        lambda: WebApp(get_settings(), build, deps.storage_profile_service().sts_endpoints))
    return build
