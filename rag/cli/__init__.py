"""Command line: ``python -m rag {ingest,search,ask,eval,quiz,targets,bench,feedback,add,documents,remove}``.

This package holds the parser (here) and one module per command family (index, ask, …);
each parses nothing itself, calls the stage modules and prints. Every RagError
becomes one line on stderr and exit status 1 (2 for usage errors); no tracebacks.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from rag.config import MODES, load_settings
from rag.errors import RagError


# ------------------------------------------------------------------ commands


def command(target: str):
    """The handler ``module:function`` of a command, imported only when that command runs
    (a search must not pay for importing the evaluation suite)."""
    module, name = target.split(":")

    def run(args, settings) -> int:
        return getattr(importlib.import_module(module), name)(args, settings)

    return run


# ------------------------------------------------------------------ parser


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m rag", description="规划问答：山西省“十四五”规划纲要的检索、问答、评测与出题。")
    p.add_argument("--data-dir", help="索引所在目录（默认 ./storage，环境变量 RAG_DATA_DIR）")
    p.add_argument("--embedder", help="嵌入模型：e5-small-q4（默认）或 sentence-transformers:<路径>")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sp = sub.add_parser("ingest", help="解析、切分、嵌入并建立索引（原子切换，中断不破坏旧索引）")
    sp.add_argument("--rebuild", action="store_true", help="即使语料和设置未变也重建")
    sp.add_argument("--if-missing", action="store_true", help="已有索引时什么也不做")
    sp.add_argument("--quiet", action="store_true", help="不显示进度条")
    sp.add_argument("--no-wait", action="store_true",
                    help="另一个构建正在进行时不等待，直接退出（退出码 1，并说明谁持有锁）")
    sp.add_argument("--lock-timeout", type=float, default=None, metavar="SECONDS",
                    help="等待另一个构建的最长秒数（默认 1800，RAG_LOCK_TIMEOUT）")
    sp.add_argument("--export-cache", action="store_true",
                    help="维护者用：把当前索引的向量导出为随语料发布的嵌入缓存 corpus/cache/")
    sp.set_defaults(func=command("rag.cli.index:run_ingest"))

    sp = sub.add_parser("search", help="检索：列出最相关的章节及片段")
    sp.add_argument("question", nargs="?", help="问题")
    sp.add_argument("-k", type=int, default=None, help="返回的章节数（默认 5）")
    sp.add_argument("--mode", choices=list(MODES), default=None)
    sp.add_argument("--chapter", type=int, default=None, help="只检索第 N 章（0 = 通知及序言）")
    sp.add_argument("--json", action="store_true", help="输出 JSON")
    sp.add_argument("--batch", metavar="FILE.jsonl",
                    help="批量：每行一个 {\"id\",\"question\"}，每行输出一个 JSON")
    sp.set_defaults(func=command("rag.cli.index:run_search"))

    sp = sub.add_parser("ask", help="问答：给出带章节引用的答案")
    sp.add_argument("question", nargs="?", help="问题")
    sp.add_argument("--answerer", choices=["extractive", "openai-compatible", "llama-cpp"],
                    default=None, help="回答方式（默认 extractive，无需大模型）")
    sp.add_argument("--chapter", type=int, default=None, help="只在第 N 章中查找")
    sp.add_argument("--json", action="store_true", help="输出 JSON")
    sp.add_argument("--batch", metavar="FILE.jsonl", help="批量回答，每行输出一个 JSON")
    sp.add_argument("--llm-base-url", help="OpenAI 兼容接口地址（RAG_LLM_BASE_URL）")
    sp.add_argument("--llm-model", help="模型名（RAG_LLM_MODEL）")
    sp.add_argument("--llm-timeout", type=float, help="大模型超时秒数（RAG_LLM_TIMEOUT）")
    sp.add_argument("--calibrate", action="store_true",
                    help="在金标集上校准拒答阈值（默认写入 数据目录/refusal.json）")
    sp.add_argument("--dataset", default="eval/datasets/dev.jsonl",
                    help="校准用的金标集（含 unanswerable 题），默认 eval/datasets/dev.jsonl")
    sp.add_argument("--save", metavar="FILE.json", help="校准结果写到此文件（如 eval/refusal.json）")
    sp.add_argument("--max-false", type=float, default=0.03,
                    help="校准时允许的可回答题误拒率上限（默认 0.03）")
    sp.add_argument("--folds", type=int, default=5,
                    help="校准时做 k 折交叉验证，报告折外（out-of-fold）拒答率（默认 5；0 = 不做）")
    sp.set_defaults(func=command("rag.cli.ask:run_cli"))

    sp = sub.add_parser("eval", help="离线评测：检索与回答指标、基线对比、报告与图表")
    sp.add_argument("--dataset", nargs="+", metavar="FILE",
                    help="JSONL 金标数据集（默认 eval/datasets/dev.jsonl）")
    sp.add_argument("--modes", default="bm25,dense,hybrid,naive",
                    help="逗号分隔的检索模式：bm25,dense,hybrid,naive（默认全部）")
    sp.add_argument("--k", default="1,3,5,10", help="hit@k / recall@k 的 k（默认 1,3,5,10）")
    sp.add_argument("--answers", action="store_true", help="同时运行回答流程并评测引用与拒答")
    sp.add_argument("--out", metavar="DIR", help="报告目录（默认 eval/reports/<数据集名>）")
    sp.add_argument("--check", metavar="FILE", help="只校验数据集：逐行列出不合格的行")
    sp.add_argument("--limit", type=int, default=None, help="只评测前 N 题")
    sp.add_argument("--quiet", action="store_true", help="不显示进度条")
    sp.add_argument("--compare", nargs=2, metavar=("OLD.json", "NEW.json"),
                    help="对比两次评测的 results.json：指标差值、区间、显著性与翻转的题（写到 --out）")
    sp.add_argument("--tolerance", type=float, default=None,
                    help="与 --compare 一起用：任一指标下降超过此值则退出码为 1")
    sp.add_argument("--export-beir", metavar="DIR", help="把金标集导出为 BEIR 格式（corpus/queries/qrels）")
    sp.add_argument("--save-baseline", metavar="FILE.json",
                    help="另存一份精简结果，供 --compare 作基线（如 tests/data/dev-baseline.json）")
    sp.set_defaults(func=command("rag.cli.evaluate:run_cli"))
    sp = sub.add_parser("quiz", help="出题：填空、单选、多选、判断（可选出处题），附答案与出处")
    sp.add_argument("--chapters", help="只从这些章出题，逗号分隔，如 2,3（0 = 通知及序言；默认全部）")
    sp.add_argument("--sections", help="只从这些节出题，章.节 逗号分隔，如 2.1,2.3（0 = 章首）")
    sp.add_argument("--n", type=int, default=20, help="题目数量（默认 20）")
    sp.add_argument("--types", default="cloze,choice,multi,judge",
                    help="题型，逗号分隔：cloze 填空、choice 单选、multi 多选、judge 判断、"
                         "source 出自哪一节（默认前四种）")
    sp.add_argument("--seed", type=int, default=0, help="随机种子：相同参数与种子得到相同试卷")
    sp.add_argument("--difficulty", default="mixed",
                    help="难度 mixed|easy|medium|hard：决定选哪些题与干扰项的接近程度（默认 mixed 混合）")
    sp.add_argument("--format", default="md", help="输出格式 md|csv|json|txt|docx（默认 md；txt 为问卷/考试工具导入格式）")
    sp.add_argument("--out", help="输出文件；md/json/txt 不指定时打印到标准输出")
    sp.add_argument("--exclude", nargs="+", metavar="PATH",
                    help="已发过的题：quiz JSON 文件或存放它们的题库文件夹，其中的句子不再出题")
    sp.add_argument("--coverage", metavar="FILE", help="把各章节的覆盖情况（Markdown 表）写到此文件")
    sp.add_argument("--date", help="印在试卷上的日期 YYYY-MM-DD（默认今天）")
    sp.set_defaults(func=command("rag.cli.quiz:run_cli"))
    sp = sub.add_parser("bench", help="基准测试：摄取与查询开销、内存、并发与规模")
    sp.add_argument("--scale", help="语料复制倍数，逗号分隔（默认 1,4,16；--smoke 时为 1）")
    sp.add_argument("--queries", type=int, default=None,
                    help="用 dev 问题集的前 N 题计时（默认全部；--smoke 时 5；0 = 全部）")
    sp.add_argument("--questions", metavar="FILE.jsonl", help="问题集（默认 eval/datasets/dev.jsonl）")
    sp.add_argument("--clients", help="并发客户端数，逗号分隔（默认 1,4,16；--smoke 时 1,2；0 = 不测并发）")
    sp.add_argument("--per-client", type=int, default=4, help="每个客户端提问次数（默认 4）")
    sp.add_argument("--out", metavar="DIR", help="报告目录（默认 eval/reports/bench）")
    sp.add_argument("--work", metavar="DIR",
                    help="索引工作目录（须为空或不存在，运行后保留；默认临时目录，运行后删除）")
    sp.add_argument("--uncached", action=argparse.BooleanOptionalAction, default=None,
                    help="另测不用随附嵌入缓存的冷启动摄取（真实规划约需数分钟；默认开，--smoke 时关）")
    sp.add_argument("--no-naive", action="store_true", help="不测朴素基线")
    sp.add_argument("--smoke", action="store_true", help="冒烟测试：×1、5 题、1–2 个客户端")
    sp.add_argument("--quiet", action="store_true", help="不输出进度")
    sp.set_defaults(func=command("rag.cli.bench:run_cli"))
    sp = sub.add_parser("targets", help="目标一览：规划中的量化目标与实绩，可筛选、导出")
    sp.add_argument("--chapter", type=int, default=None, help="只列第 N 章")
    sp.add_argument("--year", help="时间：2025（含十四五、十四五末）、2020（含十三五）、2035 …")
    sp.add_argument("--kind", help="性质：target 目标、result 实绩、fact 现状")
    sp.add_argument("--query", help="文本筛选：指标、原句或章节含这些词（空格分隔，须全部包含）")
    sp.add_argument("--format", default="table", help="输出格式 table|csv|json|xlsx（默认 table）")
    sp.add_argument("--out", metavar="FILE", help="输出文件（xlsx 必填）；不指定时打印到标准输出")
    sp.add_argument("--score", action="store_true", help="按金标 eval/targets_gold.jsonl 给抽取打分")
    sp.add_argument("--gold", metavar="FILE.jsonl", help="--score 用的金标文件")
    sp.set_defaults(func=command("rag.cli.targets:run_cli"))

    sp = sub.add_parser("feedback", help="用户反馈：导出为评测数据格式（供评测人员审核）或统计")
    sp.add_argument("action", choices=["export", "stats"], help="export 导出 JSONL；stats 统计")
    sp.add_argument("--out", metavar="FILE.jsonl", help="export 的输出文件")
    sp.add_argument("--since", metavar="YYYY-MM-DD", help="只导出该日（UTC）及以后的反馈")
    sp.set_defaults(func=command("rag.cli.feedback:run_cli"))
    _add_document_commands(sub)
    return p


def _add_document_commands(sub) -> None:
    """``add`` / ``documents`` / ``remove``: the plans of the corpus folder (rag.documents)."""
    sp = sub.add_parser("add", help="添加一份规划（.txt .docx .pdf .html），只嵌入新文档并原子切换索引")
    sp.add_argument("file", help="规划文件")
    sp.add_argument("--id", help="文档 id（默认取文件名）")
    sp.add_argument("--title", help="标题（默认取正文第一行），多份文档时引用会写出它")
    sp.add_argument("--quiet", action="store_true", help="不显示进度条")
    sp.add_argument("--no-wait", action="store_true",
                    help="可检索（第一阶段）后即返回，块向量与桥接词在后台补全（默认等待两阶段都完成）")
    sp.set_defaults(func=command("rag.cli.documents:run_add"))
    sp = sub.add_parser("documents", help="列出语料中的文档：id、标题、格式、节数、添加时间")
    sp.add_argument("--json", action="store_true", help="每行输出一个 JSON")
    sp.set_defaults(func=command("rag.cli.documents:run_documents"))
    sp = sub.add_parser("remove", help="从语料和索引中删除一份文档")
    sp.add_argument("id", help="文档 id（见 python -m rag documents）")
    sp.add_argument("--quiet", action="store_true", help="不显示进度条")
    sp.set_defaults(func=command("rag.cli.documents:run_remove"))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        overrides = {"data_dir": args.data_dir, "embedder": args.embedder}
        for name in ("answerer", "llm_base_url", "llm_model", "llm_timeout"):
            overrides[name] = getattr(args, name, None)
        settings = load_settings(**overrides)
        return args.func(args, settings)
    except RagError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("已中断", file=sys.stderr)
        return 130
