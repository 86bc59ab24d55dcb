"""The Gradio rating UI: wiring only. Every decision is made by
:class:`rater_app.service.RatingService`, the same object the JSON API calls.

Per-session state is one ``gr.State`` (the id of the item on screen); the rater is identified on
every event by the token cookie set by the server's gate, never by a module global.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable

import gradio as gr

from rater_app.design import Protocol
from rater_app.service import Finished, Presentation, RatingService, Refused

UI_CSS = """
.db-caption { font-size: 1.25rem; font-weight: 600; margin: 0.5rem 0 1rem; }
.db-sets { display: flex; gap: 1.5rem; flex-wrap: wrap; }
.db-set { flex: 1 1 380px; }
.db-set h3 { margin: 0 0 0.4rem; }
.db-grid { display: grid; grid-template-columns: repeat(4, 1fr); gap: 4px; }
.db-grid.single { grid-template-columns: 1fr; max-width: 512px; }
.db-grid img { width: 100%; height: auto; display: block; background: #eee; }
.db-thanks { font-size: 1.4rem; padding: 2rem 0; }
"""

SET_NAMES = ("Set A", "Set B")
IMAGE_NAMES = ("Image A", "Image B")


def keyboard_help(protocol: Protocol) -> str:
    parts = []
    for q in protocol.questions:
        keys = " / ".join(f"**{a.shortcut}** {a.label}" for a in q.answers)
        parts.append(keys)
    return "Keyboard: " + " · ".join(parts) + " · **Enter** submit"


def keyboard_js(protocol: Protocol) -> str:
    """A <script> for the page head: answer keys click the radio buttons, Enter submits."""
    mapping = {a.shortcut: [q.key, i] for q in protocol.questions for i, a in enumerate(q.answers)}
    return (
        "<script>document.addEventListener('keydown', function (e) {"
        " var t = e.target; if (t && (t.tagName === 'TEXTAREA' || (t.tagName === 'INPUT' && t.type === 'text'))) return;"
        f" var map = {json.dumps(mapping)};"
        " if (map[e.key]) { var r = document.querySelectorAll('#q-' + map[e.key][0] + ' input[type=radio]');"
        "   if (r[map[e.key][1]]) { r[map[e.key][1]].click(); e.preventDefault(); } }"
        " else if (e.key === 'Enter') { var b = document.getElementById('submit'); if (b) { b.click(); e.preventDefault(); } }"
        "});</script>"
    )


def render_stage(p: Presentation, pairwise: bool, image_protocol: bool) -> str:
    """HTML for the caption and the image sets (only opaque image URLs appear)."""

    def grid(urls, single):
        imgs = "".join(f'<img src="{html.escape(u)}" alt="" loading="eager">' for u in urls)
        return f'<div class="db-grid{" single" if single else ""}">{imgs}</div>'

    caption = f'<div class="db-caption">{html.escape(p.caption)}</div>'
    if not pairwise:
        return f'<div class="db-stage">{grid(p.left_images, True)}{caption}</div>'
    names = IMAGE_NAMES if image_protocol else SET_NAMES
    single = image_protocol
    sets = "".join(
        f'<div class="db-set" id="set-{"ab"[i]}"><h3>{names[i]}</h3>{grid(urls, single)}</div>'
        for i, urls in enumerate((p.left_images, p.right_images))
    )
    return f'<div class="db-stage">{caption}<div class="db-sets">{sets}</div></div>'


def build_ui(service: RatingService, token_of: Callable) -> gr.Blocks:
    """The rating page for ``service``'s study; ``token_of(starlette_request)`` reads the token."""
    proto = service.protocol
    image_protocol = proto.uses_reference
    with gr.Blocks(title="Image rating", analytics_enabled=False) as demo:
        progress = gr.Markdown(elem_id="progress")
        stage = gr.HTML(elem_id="stage", js_on_load=None)
        radios = {
            q.key: gr.Radio(
                choices=[(a.label, a.key) for a in q.answers],
                label=q.template,
                elem_id=f"q-{q.key}",
                visible=False,
            )
            for q in proto.questions
        }
        submit = gr.Button("Submit", elem_id="submit", variant="primary", visible=False)
        notice = gr.Markdown(elem_id="notice")
        gr.Markdown(keyboard_help(proto), elem_id="help")
        current = gr.State(None)

        def show(result: Presentation | Finished, message: str = "") -> dict:
            if isinstance(result, Finished):
                text = (
                    "You have reached today's limit. Thank you! Come back tomorrow with the same link."
                    if result.reason == "daily_cap"
                    else "All done. Thank you for your ratings!"
                )
                return {
                    progress: f"{result.done} of {result.total}",
                    stage: f'<div class="db-thanks" id="thanks">{html.escape(text)}</div>',
                    **{r: gr.Radio(visible=False, value=None) for r in radios.values()},
                    submit: gr.Button(visible=False),
                    notice: message,
                    current: None,
                }
            updates = {
                progress: f"{result.number} of {result.total}",
                stage: render_stage(result, proto.pairwise, image_protocol),
                submit: gr.Button(visible=True),
                notice: message,
                current: result.assignment,
            }
            for q in result.questions:
                updates[radios[q.key]] = gr.Radio(
                    label=q.text, value=result.answered.get(q.key), visible=True
                )
            return updates

        def refused(err: Refused) -> dict:
            return {
                progress: "",
                stage: "",
                notice: err.message,
                current: None,
                **{r: gr.Radio(visible=False) for r in radios.values()},
                submit: gr.Button(visible=False),
            }

        outputs = [progress, stage, *radios.values(), submit, notice, current]

        def on_load(request: gr.Request):
            try:
                return show(service.next_presentation(token_of(request.request)))
            except Refused as err:
                return refused(err)

        def on_submit(values: dict, request: gr.Request):
            token = token_of(request.request)
            answers = {key: values[r] for key, r in radios.items() if values.get(r)}
            if len(answers) < len(radios):
                return {notice: "Please answer every question before submitting."}
            try:
                service.submit(token, values[current], answers)
                return show(service.next_presentation(token))  # shown only after the commit
            except Refused as err:
                return {notice: err.message}

        demo.load(on_load, inputs=None, outputs=outputs)
        submit.click(
            on_submit, inputs={current, *radios.values()}, outputs=outputs, concurrency_limit=None
        )
    return demo
