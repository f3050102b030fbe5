"""`dflash-tui train-draft` end to end: the target's own answers first, then a loadable draft."""

import json

import pytest

from dflash_tui.cli import main


def test_train_draft_generates_answers_then_writes_a_loadable_draft(tiny_target, tmp_path, capsys):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": q, "category": "c"}) + "\n"
                               for q in ("What does ls do?", "What is a list?", "Explain def.")))
    out = tmp_path / "draft"
    code = main(["train-draft", "--target", str(tiny_target), "--generate-from", str(prompts),
                 "--max-answer-tokens", "12", "--out", str(out), "--layers", "1", "--taps", "1,3",
                 "--steps", "2", "--batch-size", "2", "--seq-len", "64", "--eval-prompts", str(prompts)])
    assert code == 0
    answers = [json.loads(line) for line in (out / "self_distill.jsonl").read_text().splitlines()]
    assert len(answers) == 3 and all(len(a["ids"]) > a["loss_from"] for a in answers)
    assert json.loads(capsys.readouterr().out.splitlines()[0])["prompts"] == 3

    from dflash_tui.engine.session import Engine

    assert Engine.load(tiny_target, out).has_draft


def test_train_draft_without_data_is_refused(tiny_target, tmp_path):
    assert main(["train-draft", "--target", str(tiny_target), "--out", str(tmp_path / "d")]) == 2


@pytest.mark.parametrize("line,says", [('{"prompt": "What is ls?", "reference": "lists files"}', "record 2"),
                                       ('{"messages": [', "line 2: not JSON")],
                         ids=["no-messages", "broken-json"])
def test_bad_training_data_names_the_record_and_writes_nothing(tiny_target, tmp_path, capsys, line, says):
    data = tmp_path / "chats.jsonl"
    good = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello there."}]}
    data.write_text(json.dumps(good) + "\n" + line + "\n")
    out = tmp_path / "draft"
    assert main(["train-draft", "--target", str(tiny_target), "--data", str(data), "--out", str(out),
                 "--layers", "1", "--taps", "1,3", "--steps", "2"]) == 2
    err = capsys.readouterr().err
    assert str(data) in err and says in err, err
    assert not (out / "model.safetensors").exists()


def test_stints_resume_on_the_same_answers_and_sampled_answers_are_added(tiny_target, tmp_path, capsys):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": q}) + "\n"
                               for q in ("What does ls do?", "What is a list?", "Explain def.")))
    out = tmp_path / "draft"
    common = ["train-draft", "--target", str(tiny_target), "--generate-from", str(prompts),
              "--max-answer-tokens", "12", "--out", str(out), "--layers", "1", "--taps", "1,3",
              "--steps", "50", "--batch-size", "2", "--seq-len", "64", "--time-budget", "3600",
              "--stop-after", "0", "--sampled-answers", "2"]
    assert main(common) == 0
    answers = (out / "self_distill.jsonl").read_text()
    assert len(answers.splitlines()) == 5 and not (out / "self_distill.jsonl.part").exists()
    assert json.loads((out / "trainer" / "state.json").read_text())["step"] == 1
    capsys.readouterr()
    assert main(common + ["--resume", str(out)]) == 0
    assert "reusing the answers" in capsys.readouterr().err
    assert (out / "self_distill.jsonl").read_text() == answers
    assert json.loads((out / "trainer" / "state.json").read_text())["step"] == 2
