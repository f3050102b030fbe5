"""Corpus building: reST clean-up, man-page sections, and a held-out split that never leaks."""

from dflash_tui.train.corpus import split_heldout
from dflash_tui.train.corpus_items import QAItem, clip_answer
from dflash_tui.train.corpus_manpages import sections
from dflash_tui.train.corpus_python_docs import api_items, clean_inline
from dflash_tui.train.novel_prompts import invent_prompts


def test_rest_roles_and_literals_become_plain_text():
    # the full dotted name is kept (Sphinx would show only "copy"): answers read better with it
    assert clean_inline("Use :func:`~shutil.copy` or ``cp``, see :ref:`the guide <copying>`.") == \
        "Use shutil.copy or cp, see the guide."


def test_api_directive_becomes_an_item_named_with_its_module():
    text = ".. module:: shutil\n\n.. function:: copyfile(src, dst)\n\n   Copy the contents of *src* to *dst*.\n\n" \
           "   .. versionchanged:: 3.3\n      Added things.\n"
    (item,) = api_items(text, "library/shutil.rst.txt")
    assert item.name == "shutil.copyfile" and item.answer == "shutil.copyfile(src, dst)\n\nCopy the contents of src to dst."


def test_man_sections_split_on_headings():
    parts = sections("NAME\n       ls - list directory contents\nDESCRIPTION\n       List information.\n")
    assert parts == {"NAME": ["ls - list directory contents"], "DESCRIPTION": ["List information."]}


def test_clip_answer_keeps_whole_paragraphs():
    assert clip_answer(["a" * 50, "b" * 50, "c" * 50], limit=110) == "a" * 50 + "\n\n" + "b" * 50


def test_heldout_subjects_never_reach_training_or_invented_prompts():
    items = [QAItem(c, f"{c}-thing{i}", "k", "answer", "src") for c in ("python-api", "general") for i in range(10)]
    items.append(QAItem("python-api", "python-api-thing0", "k", "second answer", "src"))
    train, heldout = split_heldout(items, per_category=2)
    held = {i.name for i in heldout}
    assert len(heldout) == 4 and not held & {i.name for i in train}
    invented = invent_prompts([(i.category, i.question()) for i in train], {n.lower() for n in held}, 30)
    assert not any(n in p["messages"][0]["content"].split() for p in invented for n in held)


def test_draft_prompts_file_holds_invented_then_corpus_questions_and_no_heldout_subject(tmp_path):
    import gzip
    import json

    from dflash_tui.train.novel_prompts import main as write_prompts

    items = [QAItem(c, f"{c}-thing{i}", "k", "answer", "src") for c in ("python-api", "general") for i in range(12)]
    train, heldout = split_heldout(items, per_category=2)
    with gzip.open(tmp_path / "train.jsonl.gz", "wt") as f:
        for i in train:
            record = {"category": i.category, "messages": [{"role": "user", "content": i.question()}]}
            f.write(json.dumps(record) + "\n")
    (tmp_path / "heldout.jsonl").write_text("".join(
        json.dumps({"category": i.category, "prompt": i.question()}) + "\n" for i in heldout))
    out = tmp_path / "prompts.jsonl"
    args = ["--corpus", str(tmp_path), "--novel", "15", "--corpus-questions", "5", "--out", str(out)]
    assert write_prompts(args) == 0
    prompts = [json.loads(line) for line in out.read_text().splitlines()]
    questions = {i.question() for i in train}
    assert len(prompts) == 20
    assert not any(p["messages"][0]["content"] in questions for p in prompts[:15])  # invented
    assert all(p["messages"][0]["content"] in questions for p in prompts[15:])  # sampled from the corpus
    held = {i.name for i in heldout}
    assert not any(name in p["messages"][0]["content"] for p in prompts for name in held)
