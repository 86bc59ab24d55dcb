"""The HTTP layer: token gate, JSON API, opaque image route, admin page, and bad input refused
with 4xx (never 5xx). Uses a real server on loopback (httpx), no browser."""

from __future__ import annotations

import io
import json

import httpx
import pytest
from PIL import Image, PngImagePlugin

from rater_app.manage import create_study, invite_rater
from rater_app.media import strip_png_metadata
from rater_app.server import MAX_BODY_BYTES, create_server
from rater_app.testing import MODEL_NAMES


@pytest.fixture
def study(db, runs):
    made = create_study(
        db, "s", runs, "drawbench", images_per_set=2, ratings_per_item=2, gold_share=0.1
    )
    return made, invite_rater(db, "s", "alice", items=5), invite_rater(db, "s", "bob", items=5)


def test_api_round_trip_and_refusals(db, study, live_server):
    made, alice, bob = study
    server = live_server(create_server(db.url, "s", mount_ui=False))
    a = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {alice}"})
    b = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {bob}"})
    anon = httpx.Client(base_url=server.url)
    item = a.get("/api/next").json()
    assert item["status"] == "item" and item["number"] == 1 and item["total"] == 5
    image = a.get(item["left_images"][0])
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    vote = {"assignment": item["assignment"], "answers": {"quality": "left", "caption": "tie"}}

    refused = [
        anon.get("/api/next"),
        anon.post("/api/vote", json=vote),
        anon.get(item["left_images"][0]),
        b.post("/api/vote", json=vote),  # not assigned to bob
        b.get(item["left_images"][0]),
        a.post("/api/vote", json={**vote, "assignment": "a" * 22}),  # unknown item
        a.post("/api/vote", json={**vote, "answers": {"quality": "best"}}),  # tampered value
        a.post("/api/vote", json={**vote, "answers": {"quality": {"$ne": 1}}}),
        a.post("/api/vote", json={**vote, "assignment": 12}),
        a.post("/api/vote", content=b"not json"),
        a.post("/api/vote", content=b"\xff\xfe"),
        a.post("/api/vote", json=[1, 2]),
        a.post("/api/vote", content=b"{" + b" " * (MAX_BODY_BYTES + 10) + b"}"),  # oversized
        a.get("/media/../../etc/passwd"),
        a.get(f"/media/{item['assignment']}/99.png"),
        a.get(f"/media/{item['assignment']}/-1.png"),
        a.get("/media/" + "x" * 500 + "/0.png"),
        anon.get("/admin"),
        anon.get("/admin", params={"t": alice}),
        anon.get("/admin/data", params={"t": "wrong"}),
        anon.get("/rate/"),
        anon.get("/rate/", params={"t": "forged"}),
        anon.get("/rate/config"),
        anon.get("/rate/gradio_api/info"),
    ]
    statuses = [r.status_code for r in refused]
    assert all(400 <= s < 500 for s in statuses), statuses
    assert statuses[-4:] == [403, 403, 403, 403]
    assert a.post("/api/vote", content=b"x" * (MAX_BODY_BYTES + 1)).status_code == 413

    ok = a.post("/api/vote", json=vote)
    assert ok.status_code == 200 and ok.json()["recorded"] == ["quality", "caption"]
    retry = a.post("/api/vote", json=vote)  # a retried request never counts twice
    assert retry.status_code == 200 and retry.json()["already_recorded"] == ["quality", "caption"]
    assert a.get("/api/next").json()["number"] == 2

    admin = anon.get("/admin/data", params={"t": made.admin_token}).json()
    assert admin["status"]["votes"] == 2 and {r["rater"] for r in admin["raters"]} == {
        "alice",
        "bob",
    }
    page = anon.get("/admin", params={"t": made.admin_token})
    assert page.status_code == 200 and "Wilson" in page.text and "alpha-run-xq7" in page.text


def test_rate_page_needs_a_valid_token_and_sets_a_cookie(db, study, live_server):
    _, alice, _ = study
    server = live_server(create_server(db.url, "s"))
    client = httpx.Client(base_url=server.url)
    page = client.get("/rate/", params={"t": alice})
    assert page.status_code == 200 and "drawbench_rater" in client.cookies
    cookie = page.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert client.get("/rate/config").status_code == 200  # the cookie now opens the rest
    assert httpx.get(f"{server.url}/rate/config").status_code == 403


def test_png_metadata_is_stripped():
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", f"model: {MODEL_NAMES['alpha-run-xq7']}")
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), (1, 2, 3)).save(buf, format="PNG", pnginfo=info)
    raw = buf.getvalue()
    assert b"SecretDiffusionXL" in raw
    clean = strip_png_metadata(raw)
    assert b"SecretDiffusionXL" not in clean and b"tEXt" not in clean
    assert Image.open(io.BytesIO(clean)).getpixel((0, 0)) == (1, 2, 3)
    with pytest.raises(ValueError, match="not a PNG"):
        strip_png_metadata(b"GIF89a")


def test_admin_json_is_valid(db, study, live_server):
    made, _, _ = study
    server = live_server(create_server(db.url, "s", mount_ui=False))
    data = httpx.get(f"{server.url}/admin/data", params={"t": made.admin_token}).json()
    assert json.loads(json.dumps(data))["status"]["items"] == made.n_items
