"""The patient's pages, the agency counter's pages and the JSON API for filings.

Server-rendered (Jinja2) with a little plain JavaScript; every asset is served by the
application itself, as the medical-insurance network has no internet access.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from medsettle.services import webauth

STATIC = Path(__file__).parent / "static"


def mount(app: FastAPI, engine: Engine) -> None:
    from . import api, clearing, common, counter, patient

    app.state.engine = engine
    app.state.login_limiter = webauth.ClientLimiter()  # code requests, failed logins per client
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(patient.router)
    app.include_router(counter.router)
    app.include_router(clearing.router)  # the clearing dashboard (administrators)
    app.include_router(api.router)
    common.install_handlers(app)
    api.install_validation_handler(app)

    @app.middleware("http")
    async def page_headers(request, call_next):
        """The pages load nothing from elsewhere and may not be framed."""
        response = await call_next(request)
        if request.url.path.startswith(("/patient", "/counter")):
            response.headers["Content-Security-Policy"] = (
                "default-src 'self'; img-src 'self' data:; object-src 'none'; "
                "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
            )
            response.headers["X-Content-Type-Options"] = "nosniff"
            response.headers["Referrer-Policy"] = "same-origin"
            response.headers["Cache-Control"] = "no-store"
        return response
