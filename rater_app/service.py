"""The rating service: the one code path behind both the JSON API and the Gradio UI.

``next_presentation(token)`` resumes a rater's open item or assigns the next one (balanced,
seeded: :func:`rater_app.design.choose_next_item`); ``submit(token, assignment, answers)``
validates and commits votes (idempotent per assignment and question) before returning, so
whatever is shown next comes after the commit. Nothing this module returns to a rater names a run,
a model or a path: images are addressed as ``/media/<assignment id>/<slot>.png`` where the
assignment id is an HMAC of (rater, item) under the study's secret.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, or_, select, update

from rater_app.design import choose_next_item, get_protocol, left_is_a, opaque_id
from rater_app.media import sanitize_image
from rater_app.storage import (
    Assignment,
    Database,
    Item,
    Rater,
    Run,
    Study,
    Vote,
    hash_token,
    utcnow,
)

log = logging.getLogger(__name__)

#: An assignment nobody answered for this long stops counting towards its item's K, so an
#: abandoned tab does not starve the item (the rater can still answer it later).
ASSIGNMENT_LEASE = timedelta(minutes=30)
MAX_ANSWER_LEN = 20


class Refused(Exception):
    """A request the service refuses; ``status`` is the HTTP status the API answers with."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class QuestionView:
    key: str
    text: str
    answers: tuple[tuple[str, str, str], ...]  # (key, label, keyboard shortcut)


@dataclass(frozen=True)
class Presentation:
    """One item as a rater sees it: left/right already resolved, images as opaque URLs."""

    assignment: str
    caption: str
    questions: tuple[QuestionView, ...]
    left_images: tuple[str, ...]
    right_images: tuple[str, ...]
    number: int  # 1-based: "number of total"
    total: int
    answered: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "status": "item",
            "assignment": self.assignment,
            "caption": self.caption,
            "questions": [
                {
                    "key": q.key,
                    "text": q.text,
                    "answers": [
                        {"key": k, "label": lbl, "shortcut": sc} for k, lbl, sc in q.answers
                    ],
                }
                for q in self.questions
            ],
            "left_images": list(self.left_images),
            "right_images": list(self.right_images),
            "number": self.number,
            "total": self.total,
            "answered": dict(self.answered),
        }


@dataclass(frozen=True)
class Finished:
    """No item to show: ``reason`` is ``done`` (quota reached or no work left) or ``daily_cap``."""

    reason: str
    done: int
    total: int

    def to_dict(self) -> dict:
        return {"status": self.reason, "done": self.done, "total": self.total}


@dataclass(frozen=True)
class SubmitResult:
    recorded: tuple[str, ...]  # questions newly stored
    already: tuple[str, ...]  # questions that already had a vote (first one kept)
    complete: bool  # every question of the item answered

    def to_dict(self) -> dict:
        return {
            "status": "ok",
            "recorded": list(self.recorded),
            "already_recorded": list(self.already),
            "complete": self.complete,
        }


@dataclass(frozen=True)
class _StudyInfo:
    id: int
    seed: int
    protocol: str
    secret: bytes
    ratings_per_item: int
    item_keys: Mapping[int, str]


class RatingService:
    """Rater-facing operations on one study. Holds caches only (no session state)."""

    def __init__(
        self,
        db: Database,
        study_name: str,
        *,
        auth_ttl: float = 5.0,
        image_cache: int = 512,
        media_prefix: str = "/media/",
    ):
        self.db = db
        self.media_prefix = media_prefix
        self.study_name = study_name
        self._auth_ttl = auth_ttl
        self._auth_cache: dict[str, tuple[float, int | None]] = {}
        self._images: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._image_cache = image_cache
        self._lock = threading.Lock()
        with db.session() as s:
            study = s.scalar(select(Study).where(Study.name == study_name))
            if study is None:
                raise Refused(404, f"no study named {study_name!r}")
            keys = dict(s.execute(select(Item.id, Item.key).where(Item.study_id == study.id)).all())
            self.study = _StudyInfo(
                study.id,
                study.seed,
                study.protocol,
                study.secret.encode(),
                study.ratings_per_item,
                keys,
            )
        self._item_ids = {k: i for i, k in keys.items()}
        self.protocol = get_protocol(self.study.protocol)

    # ------------------------------------------------------------------ auth

    def rater_id(self, token: str | None) -> int | None:
        """The rater id of a valid token of this study, else None (cached for a few seconds)."""
        if not token or len(token) > 200:
            return None
        digest = hash_token(token)
        now = time.monotonic()
        hit = self._auth_cache.get(digest)
        if hit and hit[0] > now:
            return hit[1]
        with self.db.session() as s:
            rid = s.scalar(
                select(Rater.id).where(Rater.token_hash == digest, Rater.study_id == self.study.id)
            )
        with self._lock:
            if len(self._auth_cache) > 10_000:
                self._auth_cache.clear()
            self._auth_cache[digest] = (now + self._auth_ttl, rid)
        return rid

    def _require_rater(self, s, token: str | None) -> Rater:
        rater = None
        if token and len(token) <= 200:
            rater = s.scalar(
                select(Rater).where(
                    Rater.token_hash == hash_token(token), Rater.study_id == self.study.id
                )
            )
        if rater is None:
            raise Refused(
                403, "this link is not valid; ask the study organiser for your personal link"
            )
        return rater

    # ------------------------------------------------------------------ items

    def next_presentation(self, token: str | None) -> Presentation | Finished:
        """The rater's open item, else a newly assigned one, else why there is none."""
        with self.db.session() as s:
            rater = self._require_rater(s, token)
            if self.db.dialect == "postgresql":  # one assignment at a time per rater
                s.execute(select(Rater.id).where(Rater.id == rater.id).with_for_update())
            done = s.scalar(
                select(func.count())
                .select_from(Assignment)
                .where(Assignment.rater_id == rater.id, Assignment.completed_at.is_not(None))
            )
            pending = s.scalar(
                select(Assignment)
                .where(Assignment.rater_id == rater.id, Assignment.completed_at.is_(None))
                .order_by(Assignment.id)
            )
            total = max(rater.quota, done + (pending is not None))
            if pending is not None:
                return self._present(s, pending, done + 1, total)
            if done >= rater.quota:
                return Finished("done", done, total)
            if rater.daily_cap is not None:
                today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
                n_today = s.scalar(
                    select(func.count())
                    .select_from(Assignment)
                    .where(Assignment.rater_id == rater.id, Assignment.completed_at >= today)
                )
                if n_today >= rater.daily_cap:
                    return Finished("daily_cap", done, total)
            item_id = self._choose(s, rater.id)
            if item_id is None:
                return Finished("done", done, done)
            a = Assignment(
                public_id=opaque_id(self.study.secret, "assignment", rater.id, item_id),
                rater_id=rater.id,
                item_id=item_id,
                left_side=self._left_side(rater.id, item_id),
            )
            s.add(a)
            s.flush()
            return self._present(s, a, done + 1, total)

    def _left_side(self, rater_id: int, item_id: int) -> str:
        if not self.protocol.pairwise:
            return "a"
        return (
            "a"
            if left_is_a(self.study.seed, f"rater{rater_id}", self.study.item_keys[item_id])
            else "b"
        )

    def _choose(self, s, rater_id: int) -> int | None:
        since = utcnow() - ASSIGNMENT_LEASE
        rows = s.execute(
            select(Assignment.item_id, func.count())
            .join(Item)
            .where(
                Item.study_id == self.study.id,
                or_(Assignment.completed_at.is_not(None), Assignment.created_at >= since),
            )
            .group_by(Assignment.item_id)
        ).all()
        counts = dict.fromkeys(self.study.item_keys.values(), 0)
        for item_id, n in rows:
            counts[self.study.item_keys[item_id]] = n
        seen = {
            self.study.item_keys[i]
            for i in s.scalars(select(Assignment.item_id).where(Assignment.rater_id == rater_id))
        }
        key = choose_next_item(
            counts, seen, f"rater{rater_id}", self.study.seed, self.study.ratings_per_item
        )
        if key is None:
            return None
        return self._item_ids[key]

    def _present(self, s, a: Assignment, number: int, total: int) -> Presentation:
        item = s.get(Item, a.item_id)
        answered = dict(
            s.execute(select(Vote.question, Vote.choice).where(Vote.assignment_id == a.id)).all()
        )
        n_a, n_b = len(item.images_a), len(item.images_b)
        left_n, right_n = (n_a, n_b) if a.left_side == "a" else (n_b, n_a)
        urls = [f"{self.media_prefix}{a.public_id}/{slot}.png" for slot in range(left_n + right_n)]
        questions = tuple(
            QuestionView(
                q.key, q.text(item.caption), tuple((x.key, x.label, x.shortcut) for x in q.answers)
            )
            for q in self.protocol.questions
        )
        return Presentation(
            a.public_id,
            item.caption,
            questions,
            tuple(urls[:left_n]),
            tuple(urls[left_n:]),
            number,
            total,
            answered,
        )

    # ------------------------------------------------------------------ votes

    def validate_answers(self, answers: object) -> dict[str, str]:
        """Answers as {question: answer key}; anything else is refused (400) with the reason."""
        if not isinstance(answers, Mapping) or not answers:
            raise Refused(400, "answers must be a non-empty object {question: answer}")
        clean = {}
        for q, choice in answers.items():
            question = self.protocol.question(q) if isinstance(q, str) else None
            if question is None:
                raise Refused(
                    400,
                    f"unknown question; expected one of {[x.key for x in self.protocol.questions]}",
                )
            if (
                not isinstance(choice, str)
                or len(choice) > MAX_ANSWER_LEN
                or question.answer(choice) is None
            ):
                raise Refused(
                    400,
                    f"invalid answer for {q}; expected one of {[x.key for x in question.answers]}",
                )
            clean[q] = choice
        return clean

    def submit(self, token: str | None, assignment: object, answers: object) -> SubmitResult:
        """Store votes for one of the rater's assignments; committed when this returns.

        Refused: bad token (403), unknown or someone else's assignment (404, same message),
        unknown question or answer (400). A repeated vote for a question keeps the first one.
        """
        clean = self.validate_answers(answers)
        if not isinstance(assignment, str) or not 1 <= len(assignment) <= 64:
            raise Refused(400, "assignment must be the id of the item shown to you")
        with self.db.session() as s:
            rater = self._require_rater(s, token)
            a = s.scalar(select(Assignment).where(Assignment.public_id == assignment))
            if a is None or a.rater_id != rater.id:
                raise Refused(
                    404, "no such item among yours; reload the page to get your current item"
                )
            recorded, already = [], []
            now = utcnow()
            for q, choice in clean.items():
                stmt = self.db.insert_ignore(Vote.__table__).values(
                    assignment_id=a.id, question=q, choice=choice, created_at=now
                )
                (recorded if s.execute(stmt).rowcount == 1 else already).append(q)
            n_answered = s.scalar(
                select(func.count()).select_from(Vote).where(Vote.assignment_id == a.id)
            )
            complete = n_answered >= len(self.protocol.questions)
            if complete and a.completed_at is None:
                s.execute(
                    update(Assignment)
                    .where(Assignment.id == a.id, Assignment.completed_at.is_(None))
                    .values(completed_at=now)
                )
        return SubmitResult(tuple(recorded), tuple(already), complete)

    # ------------------------------------------------------------------ images

    def image(self, token: str | None, assignment: str, slot: int) -> bytes:
        """PNG bytes of image ``slot`` (left set first, then right) of one of the rater's items,
        stripped of metadata. Refused (404) for anything else."""
        cached = self._images.get((assignment, slot))
        rid = self.rater_id(token)
        if rid is None:
            raise Refused(403, "this link is not valid")
        with self.db.session() as s:
            row = s.execute(
                select(Assignment, Item).join(Item).where(Assignment.public_id == assignment)
            ).first()
            if row is None or row[0].rater_id != rid:
                raise Refused(404, "no such image")
            a, item = row
            if cached is not None:
                return cached
            sides = [(item.run_a_id, item.images_a), (item.run_b_id, item.images_b)]
            if a.left_side == "b":
                sides.reverse()
            files = [(run_id, rel) for run_id, rels in sides for rel in rels]
            if not 0 <= slot < len(files):
                raise Refused(404, "no such image")
            run_id, rel = files[slot]
            path = Path(s.get(Run, run_id).path) / rel
        try:
            data = sanitize_image(path.read_bytes())
        except OSError as err:
            log.error("cannot read image for assignment %s slot %d: %s", assignment, slot, err)
            raise Refused(404, "image unavailable; tell the study organiser") from None
        with self._lock:
            self._images[(assignment, slot)] = data
            while len(self._images) > self._image_cache:
                self._images.popitem(last=False)
        return data

    # ------------------------------------------------------------------ counts

    def vote_count(self) -> int:
        with self.db.session() as s:
            return s.scalar(
                select(func.count())
                .select_from(Vote)
                .join(Assignment)
                .join(Item)
                .where(Item.study_id == self.study.id)
            )


def parse_created(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") + "Z" if value else ""
