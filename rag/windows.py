"""Sentence windows: each sentence with its neighbours, embedded as one more dense unit.

A short sentence (推进智慧医疗。) says little alone; its window (the sentence before, the
sentence, the sentence after, never across a section boundary) carries the context a question
in everyday words may match. Windows are embedded once at ingest through the embedding cache
(so the shipped cache in corpus/cache/ covers them) and saved with the build as
``windows.npz``: ids of the centre sentences, their section keys and unit vectors. At query
time the question vector is compared with all of them by one matrix product (1,500 windows of
384 dimensions: well under a millisecond), so no Chroma collection is added.

Not handled here: fusing the window list with the others (retrieval.py, fusion.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

WINDOWS_FILE = "windows.npz"
WINDOWS_VERSION = "1"


def window_units(sentences, radius: int = 1) -> list[tuple[str, tuple, str]]:
    """``(centre sentence id, section key, window text)`` for every sentence, in order."""
    by_section: dict[tuple, list] = {}
    for s in sentences:
        by_section.setdefault(s.key, []).append(s)
    out = []
    for key, group in by_section.items():
        group = sorted(group, key=lambda u: u.ordinal)
        for i, s in enumerate(group):
            text = "".join(u.text.strip() for u in group[max(0, i - radius):i + radius + 1])
            out.append((s.id, key, text))
    return out


def window_texts(sentences, radius: int = 1) -> list[str]:
    """The texts :func:`build_windows` embeds (the shipped-cache export lists them too)."""
    return [text for _, _, text in window_units(sentences, radius)]


def build_windows(folder: Path, sentences, embed, radius: int = 1) -> int:
    """Embed (``embed(list[str]) -> np.ndarray``) and save the windows; returns how many."""
    units = window_units(sentences, radius)
    vectors = np.asarray(embed([t for _, _, t in units]), dtype=np.float32) if units \
        else np.zeros((0, 0), dtype=np.float32)
    np.savez(Path(folder) / WINDOWS_FILE, ids=np.array([u[0] for u in units]),
             keys=np.array([list(u[1][1:]) for u in units], dtype=np.int64).reshape(-1, 2),
             docs=np.array([u[1][0] for u in units]), vectors=vectors,
             version=np.array(WINDOWS_VERSION))
    return len(units)


@dataclass(frozen=True)
class Windows:
    """The window vectors of one build."""

    ids: list[str]
    keys: list[tuple]
    vectors: np.ndarray

    @classmethod
    def load(cls, folder: Path) -> Windows | None:
        """The build's windows, or None when the build has none (built without them)."""
        path = Path(folder) / WINDOWS_FILE
        if not path.exists():
            return None
        with np.load(path, allow_pickle=False) as data:
            keys = [(d, int(c), int(s)) for d, (c, s) in zip(data["docs"].tolist(),
                                                             data["keys"].tolist())]
            ids, vecs = data["ids"].tolist(), data["vectors"].astype(np.float32)
        norms = np.linalg.norm(vecs, axis=1, keepdims=True) if vecs.size else 1.0
        return cls(ids, keys, vecs / np.where(norms > 0, norms, 1.0))

    def top(self, qvec, n: int, allowed=None) -> list[tuple[tuple, float, str]]:
        """The ``n`` best windows by cosine: ``(section key, cosine, centre id)``, best first;
        ``allowed(key)`` filters sections (the chapter / document filter)."""
        if not len(self.ids):
            return []
        q = np.asarray(qvec, dtype=np.float32)
        sims = self.vectors @ (q / (np.linalg.norm(q) or 1.0))
        out = []
        for i in np.argsort(-sims):
            if allowed is None or allowed(self.keys[i]):
                out.append((self.keys[i], float(sims[i]), self.ids[i]))
                if len(out) >= n:
                    break
        return out
