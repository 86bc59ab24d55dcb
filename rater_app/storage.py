"""Storage through SQLAlchemy: SQLite (WAL) by default, PostgreSQL by URL.

Tables: studies, runs, items, raters, assignments, votes. Votes are append-only (this module has
no update or delete for them) and unique per (assignment, question): a repeated insert is a no-op
(``INSERT ... ON CONFLICT DO NOTHING``), so a double click or a retried request never counts
twice. Every write runs in its own transaction and is committed before the function returns.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

#: Default database when neither --db nor $DRAWBENCH_STUDY_DB is given.
DEFAULT_DB_FILE = "studies.db"
DB_ENV = "DRAWBENCH_STUDY_DB"


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def hash_token(token: str) -> str:
    """sha256 hex of a rater or admin token; only this is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Base(DeclarativeBase):
    pass


class Study(Base):
    __tablename__ = "studies"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    protocol: Mapped[str] = mapped_column(String(40))
    seed: Mapped[int] = mapped_column(Integer)
    images_per_set: Mapped[int] = mapped_column(Integer)
    ratings_per_item: Mapped[int] = mapped_column(Integer)
    gold_share: Mapped[float] = mapped_column(Float)
    items_per_rater: Mapped[int] = mapped_column(Integer)
    prompt_set: Mapped[dict] = mapped_column(JSON)
    secret: Mapped[str] = mapped_column(String(64))  # HMAC key for opaque names (server side only)
    admin_token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Run(Base):
    __tablename__ = "runs"
    __table_args__ = (UniqueConstraint("study_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    path: Mapped[str] = mapped_column(Text)
    info: Mapped[dict] = mapped_column(JSON)  # run.json (generator etc.), never sent to raters


class Item(Base):
    __tablename__ = "items"
    __table_args__ = (UniqueConstraint("study_id", "key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    key: Mapped[str] = mapped_column(String(400))
    prompt_id: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(200))
    caption: Mapped[str] = mapped_column(Text)
    run_a_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    run_b_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), nullable=True)
    images_a: Mapped[list] = mapped_column(JSON)  # paths relative to run A's directory
    images_b: Mapped[list] = mapped_column(JSON)
    prompt_b_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    is_gold: Mapped[bool] = mapped_column(Boolean, default=False)
    gold: Mapped[dict] = mapped_column(JSON, default=dict)


class Rater(Base):
    __tablename__ = "raters"
    __table_args__ = (UniqueConstraint("study_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    name: Mapped[str] = mapped_column(String(320))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    quota: Mapped[int] = mapped_column(Integer)
    daily_cap: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Assignment(Base):
    __tablename__ = "assignments"
    __table_args__ = (UniqueConstraint("rater_id", "item_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(64), unique=True)
    rater_id: Mapped[int] = mapped_column(ForeignKey("raters.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    left_side: Mapped[str] = mapped_column(String(1))  # "a" or "b": which side is shown left
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Vote(Base):
    __tablename__ = "votes"
    __table_args__ = (UniqueConstraint("assignment_id", "question"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), index=True)
    question: Mapped[str] = mapped_column(String(40))
    choice: Mapped[str] = mapped_column(String(20))  # left / right / tie, or yes / somewhat / no
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


# --------------------------------------------------------------------------- engine


def resolve_db_url(db: str | None) -> str:
    """--db, else $DRAWBENCH_STUDY_DB, else ``sqlite:///studies.db`` in the current directory.
    A plain path (no ``://``) is taken as an SQLite file."""
    db = db or os.environ.get(DB_ENV) or DEFAULT_DB_FILE
    if "://" not in db:
        db = f"sqlite:///{Path(db).resolve()}"
    return db


def create_db_engine(url: str, *, create_tables: bool = True) -> Engine:
    """An engine for ``url``; SQLite gets WAL, synchronous=FULL, a busy timeout and
    ``BEGIN IMMEDIATE`` transactions (writers queue instead of failing on lock upgrade)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    else:
        engine = create_engine(url, pool_size=20, max_overflow=20, pool_pre_ping=True)
    if create_tables:
        Base.metadata.create_all(engine)
    return engine


class Database:
    """An engine plus a session factory; ``with db.session() as s:`` commits on success."""

    def __init__(self, url: str):
        self.url = url
        self.engine = create_db_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as s, s.begin():
            yield s

    def dispose(self) -> None:
        self.engine.dispose()

    def insert_ignore(self, table):
        """``INSERT ... ON CONFLICT DO NOTHING`` for this database's dialect."""
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        return insert(table).on_conflict_do_nothing()


def get_study(s: Session, name: str) -> Study | None:
    return s.scalar(select(Study).where(Study.name == name))
