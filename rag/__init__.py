"""规划问答: cited question answering over the Shanxi 14th Five-Year Plan.

Stages, one module each: corpus (parse) → chunking → embeddings → store → retrieval →
answering/citations → app / cli / evaluation / quiz / bench.
"""

__version__ = "0.1.0"
