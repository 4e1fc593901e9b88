"""Feedback on answers (👍/👎 with an optional comment), stored for the evaluators.

One table behind SQLAlchemy Core, at ``Settings.db_url`` (default
``sqlite:///<data_dir>/feedback.sqlite3``; a PostgreSQL URL works the same way). SQLite runs
in WAL mode with a busy timeout, so several app processes can write at once. A row holds
what was rated: the question as asked, the standalone question, the answer text, its
citations (JSON), the answerer, the index build id, the verdict, the comment and the time.
Only rated answers are stored: nothing is written for an answer nobody rated.

A second table, ``usage``, gets one row per answered request (time, endpoint, outcome,
latency, build id, answerer; the question only when ``RAG_LOG_QUESTIONS=1``), written in
batches by a background thread (:class:`UsageRecorder`) so a request never waits for it.

The schema is created by the app: ``create_all`` for missing tables, then the
``schema_version`` table (one row) says which migration steps (:data:`MIGRATIONS`, keyed by the
version they start from) still have to run; they run in one transaction that locks the row.

:func:`export_row` turns a row into eval/datasets/dev.jsonl's schema (the cited sections as
candidate gold, the verdict and comment as extra fields) for an evaluator to review.

Not handled here: the buttons (rag.ui), the command line (rag.cli.feedback), deciding whether
a verdict is right (an evaluator does that).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from datetime import date, datetime, timezone
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa

from rag.config import Settings
from rag.errors import FeedbackError

VERDICTS = ("up", "down")
_meta = sa.MetaData()
feedback = sa.Table(
    "feedback", _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created", sa.DateTime, nullable=False, index=True),  # UTC, naive
    sa.Column("verdict", sa.String(8), nullable=False),
    sa.Column("comment", sa.Text, nullable=False, default=""),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("standalone", sa.Text, nullable=False, default=""),
    sa.Column("answer", sa.Text, nullable=False),
    sa.Column("citations", sa.Text, nullable=False, default="[]"),  # JSON list of Citation.to_json
    sa.Column("refused", sa.Boolean, nullable=False, default=False),
    sa.Column("answerer", sa.String(64), nullable=False, default=""),
    sa.Column("build_id", sa.String(128), nullable=False, default=""),
)
usage = sa.Table(
    "usage", _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created", sa.DateTime, nullable=False, index=True),  # UTC, naive
    sa.Column("endpoint", sa.String(32), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("latency_ms", sa.Integer, nullable=False),
    sa.Column("build_id", sa.String(128), nullable=False, default=""),
    sa.Column("answerer", sa.String(64), nullable=False, default=""),
    sa.Column("question", sa.Text, nullable=True),  # only with RAG_LOG_QUESTIONS=1
)
schema_version = sa.Table(
    "schema_version", _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),  # always 1
    sa.Column("version", sa.Integer, nullable=False),
)
log = logging.getLogger(__name__)


def _v1_to_v2(conn: sa.Connection) -> None:
    """Version 1 had the feedback table only: add the usage table."""
    usage.create(conn, checkfirst=True)


# version -> the step that brings a database at that version to version + 1
MIGRATIONS = {1: _v1_to_v2}
SCHEMA_VERSION = 2


def db_url(settings: Settings) -> str:
    """The configured URL, or the SQLite file in the data folder."""
    if settings.db_url:
        return settings.db_url
    return f"sqlite:///{Path(settings.data_dir).resolve() / 'feedback.sqlite3'}"


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=10000")  # first: switching to WAL waits for other writers
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _migrate(engine: sa.Engine) -> None:
    """Bring the schema to :data:`SCHEMA_VERSION` (a database without a version row is new:
    :func:`_create` has already recorded version 1 for one that predates versioning)."""
    with engine.begin() as conn:
        q = sa.select(schema_version.c.version).where(schema_version.c.id == 1)
        found = conn.execute(q.with_for_update()).scalar()
        if found is None:  # a new database: create_all made every table of this version
            found = SCHEMA_VERSION
            conn.execute(schema_version.insert().values(id=1, version=found))
        if found > SCHEMA_VERSION:
            raise FeedbackError(f"反馈数据库的结构版本 {found} 高于本程序支持的 {SCHEMA_VERSION}："
                                "请升级程序")
        for version in range(found, SCHEMA_VERSION):
            MIGRATIONS[version](conn)
            log.info("feedback schema migrated to version %d", version + 1)
        if found != SCHEMA_VERSION:
            conn.execute(schema_version.update().where(schema_version.c.id == 1)
                         .values(version=SCHEMA_VERSION))


def _create(engine: sa.Engine, attempts: int = 5) -> None:
    """Create missing tables and run pending migrations; another process doing the same at the
    same moment is fine (its "already exists" / "locked" errors are retried)."""
    for attempt in range(attempts):
        try:
            names = set(sa.inspect(engine).get_table_names())
            v1 = "feedback" in names and "schema_version" not in names
            _meta.create_all(engine)
            if v1:
                with engine.begin() as conn:  # an unversioned database: record version 1 first
                    conn.execute(sa.insert(schema_version).values(id=1, version=1))
            _migrate(engine)
            return
        except (sa.exc.OperationalError, sa.exc.IntegrityError, sa.exc.ProgrammingError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))


@lru_cache(maxsize=8)
def _engine(url: str) -> sa.Engine:
    try:
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            engine = sa.create_engine(url, connect_args={"timeout": 10})
            sa.event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = sa.create_engine(url, pool_pre_ping=True)
        _create(engine)
    except (sa.exc.SQLAlchemyError, ImportError, OSError) as exc:
        raise FeedbackError(f"无法打开反馈数据库 {url.split('://')[0]}（{type(exc).__name__}）") from None
    return engine


class FeedbackStore:
    """Add, comment on, list and count feedback rows."""

    def __init__(self, settings: Settings):
        self.url = db_url(settings)

    @property
    def engine(self) -> sa.Engine:
        return _engine(self.url)

    def add(self, *, verdict: str, question: str, answer: str, standalone: str = "",
            citations: list[dict] | tuple = (), refused: bool = False, answerer: str = "",
            build_id: str = "", comment: str = "") -> int:
        """Store one rating; returns its id."""
        if verdict not in VERDICTS:
            raise FeedbackError(f"无效的评价：{verdict!r}（应为 up 或 down）")
        if not (question or "").strip():
            raise FeedbackError("评价缺少问题文本")
        row = dict(created=datetime.now(timezone.utc).replace(tzinfo=None), verdict=verdict, comment=comment or "",
                   question=question, standalone=standalone or "", answer=answer or "",
                   citations=json.dumps(list(citations), ensure_ascii=False),
                   refused=bool(refused), answerer=answerer or "", build_id=build_id or "")
        with self.engine.begin() as conn:
            return conn.execute(feedback.insert().values(**row)).inserted_primary_key[0]

    def set_comment(self, row_id: int, comment: str) -> None:
        with self.engine.begin() as conn:
            done = conn.execute(feedback.update().where(feedback.c.id == int(row_id))
                                .values(comment=(comment or "").strip()[:2000])).rowcount
        if not done:
            raise FeedbackError(f"没有编号为 {row_id} 的反馈")

    def rows(self, since: date | None = None) -> list[dict]:
        """All rows (oldest first), or those created on or after ``since`` (UTC)."""
        q = sa.select(feedback).order_by(feedback.c.id)
        if since is not None:
            q = q.where(feedback.c.created >= datetime(since.year, since.month, since.day))
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def stats(self) -> dict:
        """Counts: total, per verdict, with a comment, refused, and the time range."""
        c = feedback.c
        q = sa.select(sa.func.count(), sa.func.sum(sa.case((c.verdict == "up", 1), else_=0)),
                      sa.func.sum(sa.case((c.verdict == "down", 1), else_=0)),
                      sa.func.sum(sa.case((c.comment != "", 1), else_=0)),
                      sa.func.sum(sa.case((c.refused, 1), else_=0)),
                      sa.func.min(c.created), sa.func.max(c.created))
        with self.engine.connect() as conn:
            total, up, down, commented, refused, first, last = conn.execute(q).one()
        return {"total": total or 0, "up": up or 0, "down": down or 0,
                "commented": commented or 0, "refused": refused or 0,
                "first": first, "last": last}


class UsageRecorder:
    """One ``usage`` row per request, written in batches by a daemon thread: ``record`` never
    blocks and never raises; rows still queued when the process dies are lost (usage is a
    statistic, feedback is not)."""

    FIELDS = ("endpoint", "outcome", "latency_ms", "build_id", "answerer", "question")

    def __init__(self, settings: Settings, batch: int = 200):
        self.url, self.batch = db_url(settings), batch
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._pending = 0
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def record(self, **row) -> None:
        row = {k: row.get(k) for k in self.FIELDS}
        row["created"] = datetime.now(timezone.utc).replace(tzinfo=None)
        row["latency_ms"] = int(row["latency_ms"] or 0)
        for k in ("build_id", "answerer"):
            row[k] = row[k] or ""
        with self._cond:
            self._pending += 1
            self._queue.put(row)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="rag-usage", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            rows = [self._queue.get()]
            while len(rows) < self.batch:
                try:
                    rows.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                with _engine(self.url).begin() as conn:
                    conn.execute(usage.insert(), rows)
            except (sa.exc.SQLAlchemyError, FeedbackError) as exc:
                log.warning("usage rows not written (%d): %s", len(rows), type(exc).__name__)
            with self._cond:
                self._pending -= len(rows)
                self._cond.notify_all()

    def flush(self, timeout: float = 10) -> bool:
        """Wait until every recorded row is written (or failed); True if it finished in time."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout)

    def rows(self) -> list[dict]:
        with _engine(self.url).connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.select(usage).order_by(usage.c.id))]


def usage_stats(settings: Settings) -> dict:
    """Usage rows per outcome and their mean latency: {"total", "answered", "refused", "error",
    "mean_ms"}."""
    c = usage.c
    q = sa.select(c.outcome, sa.func.count(), sa.func.sum(c.latency_ms)).group_by(c.outcome)
    with _engine(db_url(settings)).connect() as conn:
        found = {outcome: (n, ms) for outcome, n, ms in conn.execute(q)}
    total = sum(n for n, _ in found.values())
    mean = sum(ms or 0 for _, ms in found.values()) / total if total else 0.0
    counts = {k: found.get(k, (0, 0))[0] for k in ("answered", "refused", "error")}
    return {"total": total, **counts, "mean_ms": round(mean)}


def parse_since(text: str | None) -> date | None:
    """``YYYY-MM-DD`` → date; None/'' → None; anything else raises FeedbackError."""
    if not text:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise FeedbackError(f"日期格式应为 YYYY-MM-DD：{text[:30]}") from None


def export_row(row: dict) -> dict:
    """A stored row in dev.jsonl's schema; the cited sections are candidate gold."""
    cites = json.loads(row["citations"] or "[]")
    gold, seen = [], set()
    for c in cites:
        key = (c.get("doc_id"), c["chapter"], c["section"])
        if key not in seen:
            seen.add(key)
            gold.append({"chapter": c["chapter"], "section": c["section"],
                         **({"doc_id": c["doc_id"]} if c.get("doc_id") else {})})
    refused = bool(row["refused"]) or not gold
    created = row["created"]
    return {"id": f"fb-{row['id']}", "question": row["question"], "gold": [] if refused else gold,
            "answer": "" if refused else row["answer"],
            "evidence": "" if refused else (cites[0].get("quote", "") if cites else ""),
            "type": "unanswerable" if refused else "everyday",
            "verdict": row["verdict"], "comment": row["comment"], "standalone": row["standalone"],
            "answerer": row["answerer"], "build_id": row["build_id"],
            "created": created.replace(tzinfo=timezone.utc).isoformat(timespec="seconds"),
            "source": "feedback"}
