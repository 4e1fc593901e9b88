"""Error tree for the package.

Errors carry a message a user can act on; they become user text only at the edges
(CLI exit message, ``gr.Error`` in the app). Nothing here imports heavy modules.
"""

from __future__ import annotations


class RagError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(RagError):
    """A setting is missing, malformed or names an unknown backend."""


class CorpusError(RagError):
    """The corpus file cannot be parsed; the message names the file and line."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None):
        where = ""
        if file is not None:
            where = f"{file}:{line}: " if line is not None else f"{file}: "
        super().__init__(where + message)
        self.file = file
        self.line = line


class IndexError_(RagError):
    """The index is missing, incomplete or unreadable."""


class IndexMismatchError(IndexError_):
    """The index was built with other settings (embedder, chunker, corpus)."""


class WriterBusyError(IndexError_):
    """Another process holds the data folder's writer lock (an ingest or a build)."""


class RetrievalError(RagError):
    """A query cannot be run (empty question, unknown mode, bad filter)."""


class GenerationError(RagError):
    """An answerer (LLM endpoint, llama.cpp) failed to produce an answer."""


class FeedbackError(RagError):
    """Feedback cannot be stored or read (database unreachable, bad verdict or date)."""


class DeployError(RagError):
    """The deploy check cannot start or verify a service (missing binary, port, bad config)."""
