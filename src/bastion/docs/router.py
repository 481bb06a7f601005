"""Swagger UI and ReDoc served from bundled assets, so the docs work offline."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = Path(fastapi_offline.__file__).parent / "static"
STATIC_PATH = "/docs/static"
DOCS_PAGES = ("/docs", "/redoc")


def install_docs(app: FastAPI, *, openapi_url: str = "/openapi.json") -> None:
    """Add ``/docs`` and ``/redoc`` pages and their assets to ``app``."""
    router = APIRouter(include_in_schema=False)
    title = app.title

    @router.get("/docs")
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{title} — API docs",
            swagger_js_url=f"{STATIC_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{STATIC_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{STATIC_PATH}/favicon.png",
        )

    @router.get("/redoc")
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{title} — API reference",
            redoc_js_url=f"{STATIC_PATH}/redoc.standalone.js",
            redoc_favicon_url=f"{STATIC_PATH}/favicon.png",
            with_google_fonts=False,
        )

    app.include_router(router)
    app.mount(STATIC_PATH, StaticFiles(directory=ASSETS), name="bastion-docs-static")
