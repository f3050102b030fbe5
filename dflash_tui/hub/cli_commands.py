"""`dflash-tui models list | pull | rm | search | pair`: thin command-line handlers over dflash_tui.hub.

cli.py calls add_models_parser(subparsers); each handler takes the parsed namespace
and returns an exit code. Errors a user can fix print one line on stderr, exit code 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from ..compat import is_draft_config
from ..settings import load_settings
from .describe import read_config
from .download import PullProgress, pull
from .errors import HubError
from .local import list_local_models, partial_downloads, resolve_local
from .pair_overrides import set_pair_override
from .pairing import check_local_pair, draft_for
from .remove import plan_removal, remove
from .search import search_models
from .units import format_count, format_size


def add_models_parser(subparsers) -> argparse.ArgumentParser:
    models = subparsers.add_parser("models", help="list, download, remove, search and pair models")
    commands = models.add_subparsers(dest="models_command", required=True, metavar="COMMAND")

    list_parser = commands.add_parser("list", help="models in the Hugging Face cache and your model folders")
    list_parser.add_argument("--dir", action="append", default=[], metavar="FOLDER",
                             help="also list this folder (repeatable); settings' model folders are always listed")
    list_parser.set_defaults(func=list_command)

    pull_parser = commands.add_parser("pull", help="download a model repo's files (resumes an interrupted pull)")
    pull_parser.add_argument("repo", help="org/name, e.g. mlx-community/Qwen3-8B-4bit")
    pull_parser.add_argument("--revision", default="main", help="branch, tag or commit (default: main)")
    pull_parser.add_argument("--with-draft", action="store_true",
                             help="also pull the target's DFlash draft and check that the pair fits")
    pull_parser.set_defaults(func=pull_command)

    rm_parser = commands.add_parser("rm", help="delete a model from the Hugging Face cache")
    rm_parser.add_argument("repo")
    rm_parser.add_argument("--revision", action="append", metavar="COMMIT",
                           help="only this revision (repeatable; a commit prefix is enough)")
    rm_parser.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    rm_parser.set_defaults(func=rm_command)

    search_parser = commands.add_parser("search", help="search the hub, most downloaded first")
    search_parser.add_argument("query")
    search_parser.add_argument("--author", help="only this organisation, e.g. mlx-community or z-lab")
    search_parser.add_argument("--limit", type=int, default=20)
    search_parser.set_defaults(func=search_command)

    pair_parser = commands.add_parser("pair", help="show or set the DFlash draft for a target; check the pair")
    pair_parser.add_argument("target", help="repo id or folder of the target")
    choice = pair_parser.add_mutually_exclusive_group()
    choice.add_argument("--set", metavar="DRAFT", help="always use this draft (repo id or folder) with TARGET")
    choice.add_argument("--clear", action="store_true", help="forget your choice, use the registry's")
    pair_parser.set_defaults(func=pair_command)
    return models


_SET_DRAFT_HINT = "choose one with `dflash-tui models pair {target} --set DRAFT`"


def _fails(error: HubError) -> int:
    print(f"error: {error}", file=sys.stderr)
    return 1


def _user_folders() -> list[str]:
    return load_settings().settings.models.folders


def list_command(args) -> int:
    models = list_local_models(_user_folders() + args.dir)
    for partial in partial_downloads():
        print(f"partial download: {partial.repo_id} ({format_size(partial.bytes_on_disk)}); "
              f"`dflash-tui models pull {partial.repo_id}` resumes it, `models rm` clears it", file=sys.stderr)
    if not models:
        print("no models yet: `dflash-tui models search QUERY`, then `dflash-tui models pull REPO`")
        return 0
    rows = [("NAME", "KIND", "FAMILY", "PARAMS", "QUANT", "SIZE", "REVISION")]
    for m in models:
        d = m.description
        params = format_count(d.parameters) + ("~" if d.parameters_estimated else "")
        revision = f"{m.revision[:10]} {','.join(m.refs)}".strip() if m.revision else "-"
        rows.append((m.name, d.kind, d.family or "?", params, str(d.quantization or "-"),
                     format_size(d.size_bytes), revision))
    _print_table(rows)
    for m in models:
        if m.description.problem:
            print(f"note: {m.name}: {m.description.problem}", file=sys.stderr)
    return 0


def pull_command(args) -> int:
    try:
        snapshot = _pull_with_bar(args.repo, args.revision)
        print(snapshot)
        choice = None if is_draft_config(read_config(snapshot)) else draft_for(args.repo)
        if choice is None:
            if args.with_draft:
                print(f"no known DFlash draft for {args.repo}: {_SET_DRAFT_HINT.format(target=args.repo)}",
                      file=sys.stderr)
            return 0
        if not args.with_draft:
            print(f"its DFlash draft: {choice.draft} (`dflash-tui models pull {args.repo} --with-draft`)")
            return 0
        draft_snapshot = _pull_with_bar(choice.draft, "main")
        print(draft_snapshot)
        return _report_pair(args.repo, snapshot, draft_snapshot)
    except HubError as error:
        return _fails(error)
    except KeyboardInterrupt:
        print("pull interrupted; the partial download is kept: run the same pull to resume", file=sys.stderr)
        return 130


def _pull_with_bar(repo_id: str, revision: str) -> Path:
    with tqdm(unit="B", unit_scale=True, desc=repo_id, file=sys.stderr, dynamic_ncols=True) as bar:
        def show(progress: PullProgress) -> None:
            bar.total = progress.total_bytes
            bar.set_postfix_str(f"{progress.files_done}/{progress.files_total} files", refresh=False)
            bar.update(progress.done_bytes - bar.n)

        return pull(repo_id, revision=revision, progress=show)


def rm_command(args) -> int:
    try:
        plan = plan_removal(args.repo, args.revision)
    except HubError as error:
        return _fails(error)
    what = f"{len(plan.revisions)} revision(s)" if plan.revisions else "partial downloads"
    if not args.yes:
        try:
            answer = input(f"remove {plan.repo_id} ({what}, frees {format_size(plan.freed_bytes)})? [y/N] ")
        except EOFError:
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing removed")
            return 1
    freed = remove(plan)
    print(f"removed {plan.repo_id} ({what}), freed {format_size(freed)}")
    return 0


def search_command(args) -> int:
    try:
        found = search_models(args.query, author=args.author, limit=args.limit)
    except HubError as error:
        return _fails(error)
    if not found:
        print(f"no models match {args.query!r}")
        return 0
    rows = [("REPO", "DOWNLOADS", "SIZE", "PARAMS", "UPDATED", "DFLASH")]
    for m in found:
        dflash = "draft" if m.looks_like_draft else m.known_draft or "-"
        rows.append((m.repo_id + (" (gated)" if m.gated else ""), str(m.downloads),
                     format_size(m.size_bytes) if m.size_bytes is not None else "?",
                     format_count(m.parameters), m.last_modified.strftime("%Y-%m-%d") if m.last_modified else "?",
                     dflash))
    _print_table(rows)
    return 0


def pair_command(args) -> int:
    try:
        if args.set or args.clear:
            set_pair_override(args.target, args.set)
        choice = draft_for(args.target)
    except HubError as error:
        return _fails(error)
    if choice is None:
        print(f"no known DFlash draft for {args.target}: {_SET_DRAFT_HINT.format(target=args.target)}",
              file=sys.stderr)
        return 1
    source = "your choice" if choice.source == "override" else "registry"
    print(f"{args.target} -> {choice.draft} ({source})")
    target_dir, draft_dir = resolve_local(args.target), resolve_local(choice.draft)
    if target_dir is None or draft_dir is None:
        missing = [name for name, d in ((args.target, target_dir), (choice.draft, draft_dir)) if d is None]
        print(f"not checked yet: pull {' and '.join(missing)} first")
        return 0
    return _report_pair(args.target, target_dir, draft_dir)


def _report_pair(target_name: str, target_dir: Path, draft_dir: Path) -> int:
    problems = check_local_pair(target_dir, draft_dir, target_name=target_name)
    for problem in problems:
        print(f"mismatch: {problem}", file=sys.stderr)
    if not problems:
        print("compatible: vocabulary, hidden size, tap layers and mask token match")
    return 1 if problems else 0


def _print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
