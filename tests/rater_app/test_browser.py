"""End to end in Debian's Chromium (Playwright): a rater opens the invitation link, rates several
items with mouse and keyboard, the votes land in the database with the right runs; a bad token is
refused; and nothing the browser receives reveals a run, a model or a run path."""

from __future__ import annotations

import os
import re

import pytest
from PIL import Image, PngImagePlugin
from sqlalchemy import select

from rater_app.export import iter_vote_rows
from rater_app.manage import create_study, invite_rater
from rater_app.server import create_server
from rater_app.storage import Vote
from rater_app.testing import MODEL_NAMES, RUN_NAMES

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


class Recorder:
    """ASGI wrapper keeping every header and body byte the server sends (SSE streams included).

    It drops the request's Accept-Encoding so that nothing is compressed and every byte is
    searchable as text."""

    def __init__(self, app):
        self.app = app
        self.sent: list[bytes] = []

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            scope = {
                **scope,
                "headers": [(k, v) for k, v in scope["headers"] if k.lower() != b"accept-encoding"],
            }
            self.sent.append(scope["path"].encode() + b"?" + scope.get("query_string", b""))

        async def recording_send(message):
            if message["type"] == "http.response.start":
                self.sent.extend(k + b": " + v for k, v in message.get("headers", []))
            elif message["type"] == "http.response.body":
                self.sent.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, recording_send)


@pytest.fixture
def study(db, runs):
    # A generator that writes its name into the PNG (as many do) must not unblind the study.
    for run in runs:
        for png in (run / "images").rglob("*.png"):
            info = PngImagePlugin.PngInfo()
            info.add_text("parameters", f"{MODEL_NAMES[run.name]} {run.name} {run}")
            Image.open(png).save(png, pnginfo=info)
    made = create_study(
        db, "s", runs, "drawbench", images_per_set=2, ratings_per_item=2, gold_share=0.1
    )
    return made, invite_rater(db, "s", "alice", items=4)


def _press_answers(page, *keys):
    """Answer by keyboard, wait until both radios show a choice, then press Enter to submit."""
    checked = (
        "document.querySelectorAll('#q-quality input:checked, #q-caption input:checked').length"
    )
    for _ in range(20):  # the item's update may still reset the radios just after it appears
        for key in keys:
            page.locator("body").press(key)
        page.wait_for_timeout(250)
        if page.evaluate(checked) == 2:
            break
    assert page.evaluate(checked) == 2
    page.locator("body").press("Enter")


def _wait_progress(page, text):
    page.wait_for_function(
        f"(document.querySelector('#progress') || {{}}).innerText === {text!r}", timeout=30000
    )


def test_rater_rates_items_end_to_end(db, study, live_server, browser):
    _, token = study
    server = live_server(create_server(db.url, "s"))
    page = browser.new_page()

    bad = page.goto(f"{server.url}/rate/?t=not-a-real-token")
    assert bad.status == 403 and "not valid" in page.content()
    assert page.locator("#stage").count() == 0

    page.goto(f"{server.url}/rate/?t={token}")
    _wait_progress(page, "1 of 4")
    expected = []  # (question, choice) per item, in order
    for n in range(1, 4):
        assert page.locator("#set-a img").count() == 2 and page.locator("#set-b img").count() == 2
        page.wait_for_function(
            "[...document.querySelectorAll('#stage img')].every(i => i.complete && i.naturalWidth > 0)"
        )
        caption = page.locator(".db-caption").inner_text()
        assert caption and caption in page.locator("#q-caption").inner_text()
        if n == 2:  # keyboard: 3 = quality "I prefer set B", 4 = caption "I prefer set A", Enter
            _press_answers(page, "3", "4")
            expected.append({"quality": "right", "caption": "left"})
        else:
            page.locator("#q-quality label", has_text="I prefer set A").click()
            page.locator("#q-caption label", has_text="I am indifferent").click()
            page.wait_for_function(
                "document.querySelectorAll('#q-quality input:checked, #q-caption input:checked').length === 2"
            )
            page.locator("#submit").click()
            expected.append({"quality": "left", "caption": "tie"})
        _wait_progress(page, f"{n + 1} of 4")

    page.goto(f"{server.url}/rate/?t={token}")  # stop and come back with the same link: resumes
    _wait_progress(page, "4 of 4")
    page.locator("#q-quality label", has_text="I prefer set B").click()
    page.locator("#submit").click()  # one question unanswered: nothing recorded, asked to finish
    page.wait_for_function(
        "document.querySelector('#notice').innerText.includes('answer every question')"
    )
    page.locator("#q-caption label", has_text="I prefer set B").click()
    page.locator("#submit").click()
    expected.append({"quality": "right", "caption": "right"})
    page.wait_for_selector("#thanks", timeout=30000)

    with db.session() as s:
        assert s.scalar(select(Vote.id).order_by(Vote.id.desc())) == 8
    rows = list(iter_vote_rows(db, "s"))
    by_item: dict[int, dict] = {}
    for r in rows:
        by_item.setdefault(r["assignment_id"], {})[r["question"]] = r
    assert [
        {q: r["choice"] for q, r in votes.items()} for _, votes in sorted(by_item.items())
    ] == expected
    for r in rows:
        assert r["run_left"] in RUN_NAMES and r["run_right"] in RUN_NAMES
        side = {"left": r["run_left"], "right": r["run_right"]}.get(r["choice"], "tie")
        assert r["winner"] == side


def test_nothing_the_browser_receives_reveals_runs_or_models(db, study, live_server, browser, runs):
    _, token = study
    recorder = Recorder(create_server(db.url, "s"))
    server = live_server(recorder)
    context = browser.new_context()
    page = context.new_page()
    received: list[tuple[str, bytes]] = []

    def keep(response):
        try:
            received.append((response.url, response.body()))
        except Exception:
            received.append((response.url, b""))
        received.append(
            (response.url, "\n".join(f"{k}: {v}" for k, v in response.headers.items()).encode())
        )

    page.on("response", keep)
    page.goto(f"{server.url}/rate/?t={token}")
    for n in range(1, 4):
        _wait_progress(page, f"{n} of 4")
        page.wait_for_function(
            "[...document.querySelectorAll('#stage img')].every(i => i.complete && i.naturalWidth > 0)"
        )
        _press_answers(page, "1", "5")
    _wait_progress(page, "4 of 4")
    caption = page.locator(".db-caption").inner_text()
    assert any(
        caption.encode() in b for b in recorder.sent
    )  # the queue's event stream was recorded
    received.append(("dom", page.content().encode()))
    received.append(("cookies", repr(context.cookies()).encode()))
    page.close()

    assert any(u.endswith(".png") and b.startswith(b"\x89PNG") for u, b in received)
    assert sum("/media/" in u for u, _ in received) >= 12
    secrets = {*RUN_NAMES, *MODEL_NAMES.values(), *(str(r) for r in runs), str(runs[0].parent)}
    secrets |= {s.lower() for s in secrets} | {s.encode().hex() for s in RUN_NAMES}
    everything = [("browser " + url, body) for url, body in received] + [
        ("server", b) for b in recorder.sent
    ]
    for where, body in everything:
        text = body.decode("utf-8", errors="replace")
        for secret in secrets:
            assert secret not in text, f"{secret!r} leaked in {where}"
        assert not re.search(r"images/drawbench-\d{3}/\d+\.png", text), (
            f"run file name leaked in {where}"
        )
    assert os.environ.get("DRAWBENCH_REQUIRE_BROWSER") != "1" or len(received) > 20
