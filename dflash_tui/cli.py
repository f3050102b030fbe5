"""`dflash-tui` entry point: thin argparse wiring; the work lives in importable modules.

    dflash-tui [--target T] [--draft D]     the full-screen app (the embedded demo pair by default)
    dflash-tui generate PROMPT              stream a reply to stdout, stats on stderr
    dflash-tui bench                        plain vs DFlash on the same target and prompts
    dflash-tui bench --policy               the auto drafting policy vs plain and each fixed block size
    dflash-tui bench --replay TRACES        the same, replayed on recorded acceptance traces (no clock noise)
    dflash-tui models ...                   list / pull / rm / search / pair models
    dflash-tui train-draft ...              train a DFlash draft for a target
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path


def default_pair(args) -> tuple[str | None, str | None]:
    """The pair the user asked for, else the embedded demo pair."""
    if getattr(args, "target", None):
        return args.target, getattr(args, "draft", None)
    from .demo import demo_available, demo_draft_path, demo_target_path

    if demo_available():
        return str(demo_target_path()), str(demo_draft_path())
    return None, None


def _load_engine(args):
    from .engine.errors import ModelLoadError
    from .engine.session import Engine

    target, draft = default_pair(args)
    if target is None:
        raise SystemExit("no model: pass --target (and --draft), or reinstall dflash-tui to get the demo pair")
    if getattr(args, "no_draft", False):
        draft = None
    try:
        return Engine.load(target, draft, progress=lambda m: print(m, file=sys.stderr))
    except ModelLoadError as e:
        raise SystemExit(f"error: {e}") from None


def format_stats_line(s) -> str:
    line = (f"[{s.mode}] {s.generated_tokens} tokens, {s.generation_tps:.1f} tok/s, prompt {s.prompt_tps:.1f} tok/s, "
            f"ttft {s.ttft_s * 1000:.0f} ms, stop={s.stop_reason}")
    if s.mode == "dflash":
        line += f", tau {s.tau:.2f}, acceptance {s.acceptance:.1%}"
    if s.reason:
        line += f" ({s.reason})"
    if s.error:
        line += f" error: {s.error}"
    return line


def cmd_generate(args) -> int:
    from .engine.events import GenerationSummary, TokenChunk
    from .engine.sampling import SamplingParams

    try:
        sampling = SamplingParams(temperature=args.temperature, top_p=args.top_p, top_k=args.top_k,
                                  min_p=args.min_p, repetition_penalty=args.repetition_penalty, seed=args.seed,
                                  rule=args.rule)
    except ValueError as e:
        raise SystemExit(f"error: {e}") from None
    engine = _load_engine(args)
    prompt = args.prompt if args.prompt != "-" else sys.stdin.read()
    messages = ([{"role": "system", "content": args.system}] if args.system else []) + \
        [{"role": "user", "content": prompt}]
    ids = engine.encode_chat(messages)
    cancel = threading.Event()
    summary = None
    try:
        for event in engine.generate(ids, max_tokens=args.max_tokens, mode=args.mode,
                                     block_size=args.block_size, cancel=cancel, sampling=sampling):
            if isinstance(event, TokenChunk):
                sys.stdout.write(event.text)
                sys.stdout.flush()
            elif isinstance(event, GenerationSummary):
                summary = event
    except KeyboardInterrupt:
        cancel.set()
    sys.stdout.write("\n")
    if summary is not None:
        print(format_stats_line(summary), file=sys.stderr)
        return 1 if summary.stop_reason == "error" else 0
    return 130


def cmd_bench(args) -> int:
    import json

    if args.synthetic:
        from .bench_synthetic import run_synthetic

        return run_synthetic(args)
    if args.replay:
        from .policy_replay import main as policy_replay

        flags = (["--no-shadow"] if args.no_shadow else []) + (["--json", args.json] if args.json else [])
        return policy_replay(["replay", args.replay, "--runs", str(args.runs)] + flags)

    from .bench import DEFAULT_PROMPTS, format_table, run_bench, to_json

    engine = _load_engine(args)
    if not engine.has_draft:
        raise SystemExit("error: bench compares DFlash with plain decoding: give a --draft too")
    prompts = DEFAULT_PROMPTS
    if args.prompts:
        path = Path(args.prompts)
        lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
        prompts = [json.loads(ln)["prompt"] if ln.lstrip().startswith("{") else ln for ln in lines]
    prompts = prompts[: args.limit] if args.limit else prompts
    print(f"bench: {engine.target_name} + {engine.draft_name}, {len(prompts)} prompts, "
          f"{args.runs} runs, {args.max_tokens} tokens", file=sys.stderr)
    if args.policy:
        return _bench_policy(args, engine, prompts)
    results = run_bench(engine, prompts, runs=args.runs, max_tokens=args.max_tokens,
                        block_size=args.block_size, progress=lambda m: print(m, file=sys.stderr),
                        temperature=args.temperature, seed=args.seed, rule=args.rule)
    print(format_table(results))
    return _emit_json(args, to_json(results, {
        "target": engine.target_name, "draft": engine.draft_name, "runs": args.runs, "max_tokens": args.max_tokens,
        "block_size": args.block_size or engine.block_size, "temperature": args.temperature, "seed": args.seed,
        "rule": args.rule}))


def _emit_json(args, payload: str) -> int:
    """Bench JSON goes to --json when given (the table stays readable on stdout), else to stdout."""
    if args.json:
        Path(args.json).write_text(payload)
        print(f"json written to {args.json}", file=sys.stderr)
    else:
        print(payload)
    return 0


def _bench_policy(args, engine, prompts: list[str]) -> int:
    from .bench import format_policy_table, policy_to_json, run_policy_bench

    sizes = [int(b) for b in args.block_sizes.split(",")] if args.block_sizes else None
    results = run_policy_bench(engine, prompts, runs=args.runs, max_tokens=args.max_tokens, block_sizes=sizes,
                               progress=lambda m: print(m, file=sys.stderr), temperature=args.temperature,
                               seed=args.seed, stat=args.stat, rule=args.rule)
    print(format_policy_table(results))
    return _emit_json(args, policy_to_json(results, {
        "target": engine.target_name, "draft": engine.draft_name, "runs": args.runs, "max_tokens": args.max_tokens,
        "temperature": args.temperature, "seed": args.seed, "rule": args.rule}))


def _sampling_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--temperature", type=float, default=0.0, help="0: greedy")
    p.add_argument("--seed", type=int,
                   help="makes sampling reproducible: the same seed and settings give the same text in every "
                        "mode and block size (the coupled acceptance rule, the default with a seed)")
    p.add_argument("--rule", choices=["coupled", "block", "rejection", "matching"],
                   help="DFlash acceptance under sampling, all lossless (default: coupled with --seed, else "
                        "block). coupled: position-keyed Gumbel noise, the same text in every mode for a "
                        "seed; block: block verification, the most accepted drafts; rejection: token-by-token "
                        "speculative rejection sampling (block and rejection repeat a seeded run only for a fixed "
                        "block size sequence); matching: draw and compare, for comparison")


def cmd_app(args) -> int:
    from .app import run_app

    return run_app(args)


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--target", help="target model folder or Hugging Face repo id (default: the demo pair)")
    p.add_argument("--draft", help="DFlash draft folder or repo id")
    p.add_argument("--no-draft", action="store_true", help="load the target only")


def build_parser() -> argparse.ArgumentParser:
    from .bench_synthetic import add_synthetic_args
    from .hub.cli_commands import add_models_parser
    from .train.cli_commands import add_train_parser

    parser = argparse.ArgumentParser(prog="dflash-tui", description=__doc__.splitlines()[0])
    _model_args(parser)
    parser.set_defaults(func=cmd_app)
    sub = parser.add_subparsers(dest="command")

    gen = sub.add_parser("generate", help="stream a reply to one prompt")
    _model_args(gen)
    gen.add_argument("prompt", help="the prompt ('-' reads stdin)")
    gen.add_argument("--system", help="system prompt")
    gen.add_argument("--max-tokens", type=int, default=256)
    gen.add_argument("--mode", choices=["dflash", "plain", "auto"], default="auto",
                     help="auto: the drafting policy picks the block size per cycle, plain decoding included")
    gen.add_argument("--block-size", type=int, help="pins the DFlash block size (with --mode auto too)")
    _sampling_args(gen)
    gen.add_argument("--top-p", type=float, default=1.0)
    gen.add_argument("--top-k", type=int, default=0)
    gen.add_argument("--min-p", type=float, default=0.0)
    gen.add_argument("--repetition-penalty", type=float, default=1.0)
    gen.set_defaults(func=cmd_generate)

    bench = sub.add_parser("bench", help="plain decoding vs DFlash, table + JSON")
    _model_args(bench)
    bench.add_argument("--prompts", help="file: one prompt per line, or JSONL with a 'prompt' field")
    bench.add_argument("--limit", type=int, help="use the first N prompts")
    bench.add_argument("--runs", type=int, default=3)
    bench.add_argument("--max-tokens", type=int, default=128)
    bench.add_argument("--block-size", type=int)
    bench.add_argument("--policy", action="store_true",
                       help="compare the auto drafting policy with plain decoding and each fixed block size")
    bench.add_argument("--block-sizes", help="with --policy: comma-separated fixed block sizes (default 4,8,16)")
    bench.add_argument("--stat", choices=["median", "best"], default="median",
                       help="with --policy: compare median runs, or each variant's fastest run (busy machines)")
    bench.add_argument("--replay", metavar="TRACES",
                       help="replay the policy on acceptance traces written by `python -m dflash_tui.policy_replay "
                            "record` (greedy; --runs answers per prompt) instead of timing it")
    bench.add_argument("--no-shadow", action="store_true", help="with --replay: the policy without shadow probes")
    _sampling_args(bench)
    bench.add_argument("--json", help="write the JSON here instead of stdout")
    add_synthetic_args(bench)
    bench.set_defaults(func=cmd_bench)

    add_models_parser(sub)
    add_train_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
