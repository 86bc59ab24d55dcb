"""The HTTP server: a FastAPI app with the JSON API, opaque image URLs, the admin page and the
Gradio rating UI mounted under ``/rate``.

Routes:
    GET  /rate/?t=TOKEN          the rating UI (sets an HttpOnly cookie with the token)
    GET  /api/next               the rater's current item (JSON)
    POST /api/vote               {"assignment": ..., "answers": {question: answer}} (JSON)
    GET  /media/<id>/<slot>.png  an image of one of the rater's items, metadata stripped
    GET  /admin?t=ADMIN_TOKEN    progress, gold accuracy, live preference (HTML; /admin/data JSON)

The API and the UI call the same :class:`rater_app.service.RatingService` methods. A rater token
travels as the cookie, or as ``Authorization: Bearer TOKEN``. Everything under ``/rate`` (the
Gradio page, its config, scripts and queue) answers 403 without a valid rater token, and every
request body above :data:`MAX_BODY_BYTES` is refused with 413 before it is read.
"""

from __future__ import annotations

import hmac
import html
import json
import logging
import os
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from rater_app.service import RatingService, Refused
from rater_app.storage import Database, Study, hash_token

log = logging.getLogger(__name__)

COOKIE = "drawbench_rater"
MAX_BODY_BYTES = 16 * 1024
RATE_PATH = "/rate"


def _token_from(request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.cookies.get(COOKIE)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"status": "refused", "error": message}, status_code=status)


class _BodyLimit:
    """ASGI middleware: refuse request bodies over ``limit`` bytes (declared or streamed) with 413."""

    def __init__(self, app, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        too_big = False
        if declared is not None:
            try:
                too_big = int(declared) > self.limit
            except ValueError:
                too_big = True
        if too_big:
            return await _send_plain(send, 413, b"request too large")
        seen = 0

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await _send_plain(send, 413, b"request too large")


class _TooLarge(Exception):
    pass


async def _send_plain(send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def create_server(db_url: str, study_name: str, *, mount_ui: bool = True):
    """The FastAPI application for one study (the UI is left out with ``mount_ui=False``)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from rater_app.admin import admin_data, render_admin

    db = Database(db_url)
    service = RatingService(db, study_name)
    app = FastAPI(title="rating", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.service = service

    @app.middleware("http")
    async def gate(request: Request, call_next):
        path = request.url.path
        if path == RATE_PATH or path.startswith(RATE_PATH + "/"):
            entry = request.query_params.get("t")
            token = entry or _token_from(request)
            if service.rater_id(token) is None:
                return HTMLResponse(_REFUSED_PAGE, status_code=403)
            response = await call_next(request)
            if entry:
                response.set_cookie(
                    COOKIE, entry, httponly=True, samesite="strict", max_age=180 * 86400
                )
            response.headers["Referrer-Policy"] = "no-referrer"
            return response
        return await call_next(request)

    @app.get("/", response_class=HTMLResponse)
    def index():
        return HTMLResponse(
            "<!doctype html><title>Rating</title><p>Open your personal invitation link.</p>"
        )

    @app.get("/api/next")
    def api_next(request: Request):
        try:
            return service.next_presentation(_token_from(request)).to_dict()
        except Refused as err:
            return _error(err.status, err.message)

    @app.post("/api/vote")
    async def api_vote(request: Request):
        try:
            body = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _error(
                400, 'body must be JSON: {"assignment": ..., "answers": {question: answer}}'
            )
        if not isinstance(body, dict):
            return _error(400, "body must be a JSON object")
        try:
            result = await run_in_threadpool(
                service.submit, _token_from(request), body.get("assignment"), body.get("answers")
            )
        except Refused as err:
            return _error(err.status, err.message)
        return result.to_dict()

    @app.get("/media/{assignment}/{slot}.png")
    def media(assignment: str, slot: str, request: Request):
        if not slot.isdigit() or len(slot) > 4 or len(assignment) > 64:
            return _error(404, "no such image")
        try:
            data = service.image(_token_from(request), assignment, int(slot))
        except Refused as err:
            return _error(err.status, err.message)
        return Response(
            data, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"}
        )

    def _admin_ok(token: str | None) -> bool:
        with db.session() as s:
            study = s.get(Study, service.study.id)
            return bool(token) and hmac.compare_digest(study.admin_token_hash, hash_token(token))

    @app.get("/admin")
    def admin(request: Request, t: str | None = None):
        if not _admin_ok(t):
            return HTMLResponse(_REFUSED_PAGE, status_code=403)
        return HTMLResponse(render_admin(admin_data(db, study_name)))

    @app.get("/admin/data")
    def admin_json(request: Request, t: str | None = None):
        if not _admin_ok(t):
            return _error(403, "admin token required: /admin/data?t=ADMIN_TOKEN")
        return JSONResponse(admin_data(db, study_name))

    @app.get(RATE_PATH)
    def rate_redirect(request: Request):  # reached only with a valid token (see gate)
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(f"{RATE_PATH}/{query}")

    if mount_ui:
        import gradio as gr

        from rater_app.app import UI_CSS, build_ui, keyboard_js

        blocks = build_ui(service, token_of=_token_from)
        app = gr.mount_gradio_app(
            app,
            blocks,
            path=RATE_PATH,
            css=UI_CSS,
            head=keyboard_js(service.protocol),
            footer_links=[],
            theme=_theme(gr),
            ssr_mode=False,
        )
    return _BodyLimit(app, MAX_BODY_BYTES)


def _theme(gr) -> Any:
    """A theme using system fonts only (nothing fetched from font CDNs)."""
    system = [gr.themes.Font("system-ui"), gr.themes.Font("sans-serif")]
    return gr.themes.Default(font=system, font_mono=[gr.themes.Font("monospace")])


_REFUSED_PAGE = (
    "<!doctype html><title>Not available</title><p>This link is not valid. "
    "Use the personal invitation link you were sent, or ask the study organiser for a new one.</p>"
)


def serve(db_url: str, study_name: str, host: str = "127.0.0.1", port: int = 7860) -> None:
    """Run the server until interrupted (uvicorn)."""
    import uvicorn

    app = create_server(db_url, study_name)
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5)


def escape(text: object) -> str:
    return html.escape(str(text), quote=True)
