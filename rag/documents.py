"""Add, list and remove the plans of a corpus folder, keeping corpus.toml and the index in step.

``add``: the file is read (rag.readers) and parsed (rag.corpus) first — any error leaves the
folder, corpus.toml and the live index as they were. The original goes to
``added/<id>.<ext>`` and, for .docx/.pdf/.html, its extracted text to ``added/<id>.txt``
(the text every span points into). The index is then built in two phases (rag.phases), each
through store.build_index under the writer lock with an atomic switch; vectors of the
documents already indexed come from the embedding cache, so only the new document is embedded.
Phase 1 (quick) embeds the new plan's sentences and headings only and switches: the plan is
searchable, and its entry is appended to corpus.toml (temporary file + rename) under the same
lock, right after the switch. Phase 2 (:func:`complete_documents`, also what any
``rag ingest`` does while a document is pending) embeds the real chunk vectors and bridge
terms and switches again. A crash in phase 2 leaves the phase-1 index live and the entry in
corpus.toml; the next build completes it. Both phases, and ``remove``, read corpus.toml under
the writer lock, so an add or remove that ran in between is kept. ``remove`` builds without
the document, then (under the lock) rewrites corpus.toml and deletes the files it had added.

Not handled here: reading formats (rag.readers), parsing (rag.corpus), the build (rag.store).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

from rag.config import Settings
from rag.corpus import Corpus, DocumentInfo, corpus_of, load_corpus, load_manifest, parse_document
from rag.errors import CorpusError
from rag.readers import file_format, read_plan

ADDED = "added"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_BLOCK = re.compile(r"^\[\[documents\]\][ \t]*$", re.M)


@dataclass
class Added:
    """What ``add`` did: the new entry, its section count and the build report."""

    info: DocumentInfo
    sections: int
    report: object  # store.BuildReport of phase 1 (searchable)
    timings: dict  # read, parse_new, searchable, complete (seconds since the add began)
    complete: object = None  # store.BuildReport of phase 2, when add waited for it


def _manifest_path(settings: Settings) -> Path:
    return Path(settings.corpus_dir) / "corpus.toml"


def _default_id(path: Path, text: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", path.stem).strip("-.")
    if _ID.match(stem or ""):
        return stem.lower()
    import hashlib

    return "doc-" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]


def _default_title(path: Path, text: str) -> str:
    for line in text.split("\n"):
        line = line.strip(" \t\u3000\u00a0")
        if line:
            return line[:60]
    return path.stem


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _entry(fields: dict) -> str:
    lines = ["", "[[documents]]"] + [f"{k} = {json.dumps(v, ensure_ascii=False)}"
                                     for k, v in fields.items() if v]
    return "\n".join(lines) + "\n"


def _taken(doc_id: str) -> CorpusError:
    return CorpusError(f"文档 id「{doc_id}」已存在：请用 --id 另取一个，或先 remove")


def add_document(settings: Settings, file: Path | str, *, doc_id: str | None = None,
                 title: str | None = None, progress: bool = False, on_stage=None,
                 wait: bool = True, on_searchable=None, use_shipped_cache: bool = True) -> Added:
    """Add a plan file to the corpus: phase 1 makes it searchable, phase 2 (``wait``) completes.

    Args:
        on_searchable: called with the :class:`Added` of phase 1 as soon as it is live.
        wait: also run phase 2 (:func:`complete_documents`) before returning.
        use_shipped_cache: passed to store.build_index (the benchmark's cold add turns it off).

    Raises:
        CorpusError: unsupported, unreadable or unparsable file; id taken or invalid.
        IndexError_: the data folder cannot be written (corpus.toml is then unchanged).
        Errors of phase 2 propagate too; the plan then stays searchable and pending.
    """
    from rag.store import build_index

    src = Path(file)
    fmt = file_format(src)
    timings: dict[str, float] = {}
    t0 = t = time.perf_counter()
    text = read_plan(src)
    timings["read"] = time.perf_counter() - t
    infos = load_manifest(Path(settings.corpus_dir))
    doc_id = doc_id or _default_id(src, text)
    if not _ID.match(doc_id):
        raise CorpusError(f"文档 id「{doc_id}」无效：只能用字母、数字和 _ . -（不超过 64 个字符）")
    if any(i.id == doc_id for i in infos):
        raise _taken(doc_id)
    corpus_dir = Path(settings.corpus_dir)
    folder = corpus_dir / ADDED
    text_rel = f"{ADDED}/{doc_id}.txt"
    source_rel = f"{ADDED}/{doc_id}{src.suffix.lower()}" if fmt != "txt" else ""
    info = DocumentInfo(id=doc_id, title=title or _default_title(src, text),
                        file=corpus_dir / text_rel, format=fmt,
                        source=(corpus_dir / source_rel) if source_rel else None,
                        added=time.strftime("%Y-%m-%dT%H:%M:%S"))
    t = time.perf_counter()
    doc = parse_document(replace(info, source=src), text)  # errors name the user's file
    timings["parse_new"] = time.perf_counter() - t

    staged = [corpus_dir / text_rel] + ([corpus_dir / source_rel] if source_rel else [])
    if any(p.exists() for p in staged):
        raise CorpusError(f"{folder} 中已有 {doc_id} 的文件：请先删除或换一个 id")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (corpus_dir / text_rel).write_text(text, encoding="utf-8")
        if source_rel:
            shutil.copyfile(src, corpus_dir / source_rel)
        manifest = _manifest_path(settings)
        fields = {"id": doc_id, "title": info.title, "file": text_rel, "source": source_rel,
                  "format": fmt, "added": info.added}

        def corpus_now() -> Corpus:  # under the writer lock: the documents as they are now
            now = load_manifest(corpus_dir)
            if any(i.id == doc_id for i in now):
                raise _taken(doc_id)
            return corpus_of(now + [info])

        def write_entry() -> None:
            _write_atomic(manifest, manifest.read_text(encoding="utf-8").rstrip("\n") + "\n"
                          + _entry(fields))

        report = build_index(settings, corpus=corpus_now, progress=progress, on_stage=on_stage,
                             quick=True, on_switched=write_entry,
                             use_shipped_cache=use_shipped_cache)
    except BaseException:
        for p in staged:
            p.unlink(missing_ok=True)
        raise
    timings["searchable"] = time.perf_counter() - t0
    added = Added(info, len(doc.sections), report, timings)
    if on_searchable is not None:
        on_searchable(added)
    if wait:
        added.complete = complete_documents(settings, progress=progress, on_stage=on_stage,
                                            use_shipped_cache=use_shipped_cache)
        timings["complete"] = time.perf_counter() - t0
    return added


def complete_documents(settings: Settings, *, progress: bool = False, on_stage=None,
                       use_shipped_cache: bool = True):
    """Phase 2: a complete build of the corpus as corpus.toml has it now (read under the
    writer lock); skipped when the live index is complete already. Returns the build report."""
    from rag.store import build_index

    return build_index(settings, corpus=lambda: load_corpus(settings.corpus_dir),
                       progress=progress, on_stage=on_stage, use_shipped_cache=use_shipped_cache)


def remove_document(settings: Settings, doc_id: str, *, progress: bool = False):
    """Remove a document from corpus.toml and the index; returns the build report.

    Raises:
        CorpusError: no such id, or it is the only document.
    """
    from rag.store import build_index

    gone: list[DocumentInfo] = []

    def corpus_now() -> Corpus:  # under the writer lock: the documents as they are now
        infos = load_manifest(Path(settings.corpus_dir))
        gone[:] = [i for i in infos if i.id == doc_id]
        if not gone:
            raise CorpusError(f"没有 id 为「{doc_id}」的文档（可用：{', '.join(i.id for i in infos)}）")
        rest = [i for i in infos if i.id != doc_id]
        if not rest:
            raise CorpusError(f"「{doc_id}」是唯一的文档，不能删除")
        return corpus_of(rest)

    def forget() -> None:
        manifest = _manifest_path(settings)
        _write_atomic(manifest, _without_entry(manifest.read_text(encoding="utf-8"), doc_id))
        added = (Path(settings.corpus_dir) / ADDED).resolve()
        for p in (gone[0].file, gone[0].source):
            if p is not None and p.resolve().parent == added:
                p.unlink(missing_ok=True)

    return build_index(settings, corpus=corpus_now, progress=progress, on_switched=forget)


def _without_entry(text: str, doc_id: str) -> str:
    """corpus.toml text without the [[documents]] block whose id is ``doc_id``."""
    starts = [m.start() for m in _BLOCK.finditer(text)]
    blocks = [text[:starts[0]]] + [text[a:b] for a, b in zip(starts, starts[1:] + [len(text)])]
    kept = [blocks[0]] + [b for b in blocks[1:]
                          if (tomllib.loads(b).get("documents") or [{}])[0].get("id") != doc_id]
    return "".join(kept).rstrip("\n") + "\n"


def list_documents(settings: Settings) -> list[dict]:
    """id, title, format, sections, added date and index state of every document in
    corpus.toml: ``state`` is 完成 (complete), 待补全 (phase 2 pending) or 未索引 (not in the
    live index, e.g. no index yet)."""
    from rag.store import current_manifest

    corpus: Corpus = corpus_of(load_manifest(Path(settings.corpus_dir)))
    live = current_manifest(settings)
    indexed = {d["id"] for d in live.documents} if live else set()
    pending = set(live.pending) if live else set()
    return [{"id": d.id, "title": d.info.title,
             "format": d.info.format or file_format(d.info.source or d.info.file),
             "sections": len(d.sections), "added": d.info.added or "（随附）",
             "pending": d.id in pending,
             "state": "待补全" if d.id in pending else "完成" if d.id in indexed else "未索引"}
            for d in corpus.documents]
