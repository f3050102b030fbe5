"""The embedded pair ships inside the package, fits the size budget, and chats offline."""

from dflash_tui.demo import demo_available, demo_draft_path, demo_heldout_prompts_path, demo_target_path
from dflash_tui.train.evaluate import load_prompts

SIZE_BUDGET_BYTES = 12_000_000


def test_demo_pair_is_installed_within_its_size_budget():
    assert demo_available()
    size = sum(f.stat().st_size for folder in (demo_target_path(), demo_draft_path()) for f in folder.iterdir())
    assert size <= SIZE_BUDGET_BYTES


def test_demo_pair_loads_and_generates_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from dflash_tui.engine.session import Engine

    engine = Engine.load(demo_target_path(), demo_draft_path())
    ids = engine.encode_chat([{"role": "user", "content": "What does the ls command do?"}])
    dflash = list(engine.generate(ids, max_tokens=24, mode="dflash"))[-1]
    engine.reset()
    plain = list(engine.generate(ids, max_tokens=24, mode="plain"))[-1]
    assert dflash.error == "" and dflash.generated_tokens > 0 and dflash.text.strip()
    assert dflash.token_ids == plain.token_ids


def test_heldout_prompts_cover_four_categories_and_never_appear_in_training_questions():
    prompts = load_prompts(demo_heldout_prompts_path())
    categories = {p["category"] for p in prompts}
    assert len(prompts) >= 50 and categories == {"python-api", "unix-command", "c-function", "general"}


def test_evaluate_measures_sampled_tau_under_the_rule_asked_for(capsys):
    import json

    from dflash_tui.demo import demo_draft_path, demo_target_path
    from dflash_tui.train.evaluate import main

    common = ["--target", str(demo_target_path()), "--draft", str(demo_draft_path()), "--prompts",
              str(demo_target_path().parent / "heldout_prompts.jsonl"), "--limit", "2", "--max-tokens", "24",
              "--temperature", "0.7", "--seed", "0"]
    results = {}
    for rule in ("coupled", "rejection"):
        assert main(common + ["--rule", rule]) == 0
        results[rule] = json.loads(capsys.readouterr().out)["all"]
    assert main(common) == 0  # a seed alone means the coupled rule, as in the app
    assert json.loads(capsys.readouterr().out)["all"] == results["coupled"]
    assert all(r["tokens"] > 0 and r["cycles"] > 0 for r in results.values())


def test_evaluate_measures_a_retrained_draft_beside_the_shipped_one(capsys, tmp_path):
    """The reproduction check's command: two drafts for one target on the same prompts, and their tau ratio."""
    import json

    from dflash_tui.train.evaluate import main
    from dflash_tui.train.quantize_draft import main as quantize

    assert quantize([str(demo_draft_path()), str(tmp_path / "q4"), "--bits", "4"]) == 0
    capsys.readouterr()
    assert main(["--target", str(demo_target_path()), "--draft", str(tmp_path / "q4"), "--baseline",
                 str(demo_draft_path()), "--prompts", str(demo_heldout_prompts_path()), "--limit", "3",
                 "--max-tokens", "32"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["draft"]["all"]["prompts"] == out["baseline"]["all"]["prompts"] == 3
    assert out["draft"]["all"]["tokens"] == out["baseline"]["all"]["tokens"]  # greedy: the same answers
    assert out["tau_ratio"] == round(out["draft"]["all"]["tau"] / out["baseline"]["all"]["tau"], 4)
