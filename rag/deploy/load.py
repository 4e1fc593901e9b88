"""Simulated users through nginx: each asks a question of the plan from
eval/datasets/dev.jsonl, then a follow-up (那2035年呢？) with the history the first answer
returned, and rates some answers; over Gradio's call API (POST /gradio_api/call/<api>, then GET
/gradio_api/call/<api>/<event_id>, which must reach the same process: nginx's sticky cookie).

Every request is timed; a failure (HTTP error, a Gradio error event, a timeout, a malformed
answer) is counted with its kind. A follow-up is "in context" when its standalone question
carries every topic word of that user's own first question. Each rating carries a unique token
in its comment so the check can find it in the database afterwards.

Not handled here: starting the services (rag.deploy.stack), the database check and the report
(rag.deploy.check).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from rag.config import PROJECT_ROOT
from rag.followup import _FRAME, topic_terms

DEV = PROJECT_ROOT / "eval" / "datasets" / "dev.jsonl"
FOLLOW_UP = "那2035年呢？"
ANSWERABLE = {"fact", "paraphrase", "everyday", "multi", "concept"}


@dataclass(frozen=True)
class Pair:
    """A first question, its follow-up, and the topic words the follow-up must inherit."""

    first: str
    follow: str
    topic: tuple[str, ...]


def load_pairs(path: Path = DEV) -> list[Pair]:
    """Answerable dev questions that open with 到2025年 / “十四五”期间…, each followed by 那2035年呢？."""
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        q = row["question"]
        frame = _FRAME.match(q)  # set in a period at the start: one question, no 十三五 in it
        if (row.get("type") in ANSWERABLE and frame and ("2025" in frame.group(0) or "十四五" in frame.group(0))
                and q.count("？") == 1 and "十三五" not in q):
            topic = tuple(topic_terms(_FRAME.sub("", q)))
            if topic:
                pairs.append(Pair(q, FOLLOW_UP, topic))
    return pairs


@dataclass
class Stats:
    """What the users saw, summed over all of them."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: {"ask": [], "feedback": []})
    errors: Counter = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)
    conversations: int = 0
    in_context: int = 0
    out_of_context: list[dict] = field(default_factory=list)
    refused: int = 0
    feedback_sent: dict[str, dict] = field(default_factory=dict)  # token → {verdict, question, id}
    upstreams: dict[int, set] = field(default_factory=dict)  # user → processes that answered it
    per_upstream: Counter = field(default_factory=Counter)
    started: float = 0.0
    ended: float = 0.0
    side_result: object = None

    def fail(self, kind: str, detail: str) -> None:
        self.errors[kind] += 1
        if len(self.error_samples) < 10:
            self.error_samples.append(f"{kind}: {detail[:200]}")

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.latencies.values()) + sum(self.errors.values())


def _last_event(text: str) -> tuple[str, str]:
    """(event, data) of the last server-sent event in a finished stream."""
    event, data = "", ""
    for line in text.splitlines():
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data = line[5:].strip()
    return event, data


async def call(client: httpx.AsyncClient, api: str, data: list, stats: Stats, uid: int):
    """One API call (join + result); returns its output or None after counting the failure."""
    t0 = time.perf_counter()
    try:
        r = await client.post(f"/gradio_api/call/{api}", json={"data": data})
        if r.status_code != 200:
            return stats.fail(f"{api} POST HTTP {r.status_code}", r.text)
        up = r.headers.get("x-guihua-upstream", "")
        event_id = r.json()["event_id"]
        r2 = await client.get(f"/gradio_api/call/{api}/{event_id}")
        ups = {up, r2.headers.get("x-guihua-upstream", "")} - {""}
        stats.upstreams.setdefault(uid, set()).update(ups)
        for u in ups:
            stats.per_upstream[u] += 1
        if r2.status_code != 200:
            return stats.fail(f"{api} GET HTTP {r2.status_code}", r2.text)
        event, payload = _last_event(r2.text)
        if event != "complete":
            return stats.fail(f"{api} event {event or 'none'}", payload)
        out = json.loads(payload)[0]
    except httpx.TimeoutException as exc:
        return stats.fail(f"{api} timeout", type(exc).__name__)
    except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
        return stats.fail(f"{api} {type(exc).__name__}", str(exc))
    stats.latencies[api].append(time.perf_counter() - t0)
    return out


async def user(uid: int, base: str, pairs: list[Pair], going, stats: Stats,
               feedback_share: float, seed: int) -> None:
    """One simulated user: conversations while ``going()`` (the last one is finished)."""
    rng = random.Random(seed * 1000 + uid)
    async with httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(120.0)) as client:
        await asyncio.sleep(rng.random())  # users arrive over the first second
        n = 0
        while going():
            n += 1
            pair = rng.choice(pairs)
            first = await call(client, "ask", [pair.first, "全部", None, "全部"], stats, uid)
            if not isinstance(first, dict) or "history" not in first:
                if first is not None:
                    stats.fail("ask malformed", repr(first))
                continue
            follow = await call(client, "ask", [pair.follow, "全部", first["history"], "全部"], stats, uid)
            if not isinstance(follow, dict):
                continue
            stats.conversations += 1
            stats.refused += bool(first.get("refused")) + bool(follow.get("refused"))
            standalone = follow.get("standalone") or ""
            if all(t in standalone.lower() for t in pair.topic):  # jieba lower-cases 5G
                stats.in_context += 1
            elif len(stats.out_of_context) < 20:
                stats.out_of_context.append({"user": uid, "first": pair.first, "standalone": standalone})
            if rng.random() < feedback_share:
                token = f"deploy-check u{uid} c{n} s{seed}"
                verdict = rng.choice(("up", "down"))
                fb = await call(client, "feedback", [pair.first, first, verdict, token], stats, uid)
                if isinstance(fb, dict) and "id" in fb:
                    stats.feedback_sent[token] = {"verdict": verdict, "question": pair.first, "id": fb["id"]}
                elif fb is not None:
                    stats.fail("feedback malformed", repr(fb))


async def run_load(base: str, users: int, seconds: float, feedback_share: float = 0.3,
                   seed: int = 0, during=None) -> Stats:
    """``users`` concurrent users for ``seconds``, and on until ``during`` (an async callable
    run alongside, e.g. a re-ingest) has finished, so all of it happens under load."""
    pairs = load_pairs()
    stats = Stats()
    stats.started = time.monotonic()
    deadline = stats.started + seconds
    side = asyncio.ensure_future(during()) if during is not None else None

    def going() -> bool:
        return time.monotonic() < deadline or (side is not None and not side.done())

    try:
        await asyncio.gather(*(user(i, base, pairs, going, stats, feedback_share, seed)
                               for i in range(users)))
    finally:
        stats.ended = time.monotonic()
        stats.side_result = await side if side is not None else None
    return stats


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def summary(stats: Stats, apps: int) -> dict:
    """The row of the report for one run."""
    lat = [x for v in stats.latencies.values() for x in v]
    elapsed = max(stats.ended - stats.started, 1e-9)
    sticky = sum(1 for ups in stats.upstreams.values() if len(ups) == 1)
    return {"apps": apps, "requests": stats.requests, "errors": sum(stats.errors.values()),
            "asks": len(stats.latencies["ask"]), "feedback": len(stats.latencies["feedback"]),
            "p50_s": round(percentile(lat, 0.5), 3), "p95_s": round(percentile(lat, 0.95), 3),
            "ask_p95_s": round(percentile(stats.latencies["ask"], 0.95), 3),
            "throughput_rps": round(len(lat) / elapsed, 2), "elapsed_s": round(elapsed, 1),
            "conversations": stats.conversations, "in_context": stats.in_context,
            "refused": stats.refused, "users_on_one_process": sticky, "users_seen": len(stats.upstreams),
            "per_process": dict(stats.per_upstream), "error_kinds": dict(stats.errors),
            "error_samples": stats.error_samples, "out_of_context": stats.out_of_context}
