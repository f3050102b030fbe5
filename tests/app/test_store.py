import sqlite3

import pytest

from dflash_tui import paths
from dflash_tui.settings import GenerationSettings
from dflash_tui.store import SCHEMA_VERSION, STATUS_INTERRUPTED, STATUS_STREAMING, Store, StoreError


@pytest.fixture
def store():
    s = Store.open(paths.database_path())
    yield s
    s.close()


def test_conversations_and_messages_survive_reopening(store):
    chat = store.create_conversation("Recipes", GenerationSettings(temperature=0.5, system_prompt="Be brief."))
    store.add_message(chat.id, "user", "How do I boil an egg?")
    store.close()
    reopened = Store.open(paths.database_path())
    [saved] = reopened.list_conversations()
    assert saved.title == "Recipes" and saved.generation.system_prompt == "Be brief."
    assert [m.content for m in reopened.messages(chat.id)] == ["How do I boil an egg?"]
    reopened.close()


def test_reply_streaming_when_the_app_died_is_marked_interrupted_with_its_text(store):
    chat = store.create_conversation()
    reply = store.add_message(chat.id, "assistant", "", status=STATUS_STREAMING)
    store.update_message(reply.id, content="partial answ")
    store.close()
    reopened = Store.open(paths.database_path())
    [message] = reopened.messages(chat.id)
    assert (message.content, message.status) == ("partial answ", STATUS_INTERRUPTED)
    reopened.close()


def test_search_finds_words_across_all_conversations(store):
    a = store.create_conversation("Cooking")
    b = store.create_conversation("Python")
    store.add_message(a.id, "user", "the pasta needs salt")
    store.add_message(b.id, "assistant", "use a list comprehension for pasta-like brevity")
    store.add_message(b.id, "user", "nothing relevant")
    hits = store.search("pasta")
    assert {h.conversation_id for h in hits} == {a.id, b.id}
    assert any("«pasta»" in h.snippet for h in hits)


def test_search_matches_prefixes_titles_and_survives_fts_syntax(store):
    chat = store.create_conversation("Quantization notes")
    store.add_message(chat.id, "user", "speculative decoding")
    assert store.search("specul")[0].conversation_id == chat.id
    assert store.search("quantiz")[0].message_id is None
    assert store.search('AND OR "( NEAR') == []


def test_edited_message_is_found_by_its_new_text_only(store):
    chat = store.create_conversation()
    message = store.add_message(chat.id, "user", "apple")
    store.update_message(message.id, content="banana")
    assert store.search("apple") == [] and store.search("banana")


def test_deleting_a_conversation_removes_its_messages_from_search(store):
    chat = store.create_conversation()
    store.add_message(chat.id, "user", "ephemeral")
    store.delete_conversation(chat.id)
    assert store.list_conversations() == [] and store.search("ephemeral") == []


def test_reply_stats_are_kept_with_the_message(store):
    chat = store.create_conversation()
    reply = store.add_message(chat.id, "assistant", "hi")
    store.update_message(reply.id, status="complete", stats={"generation_tps": 42.0, "tau": 3.5})
    assert store.messages(chat.id)[0].stats == {"generation_tps": 42.0, "tau": 3.5}


def test_corrupt_database_gives_a_clear_error_and_is_left_untouched():
    path = paths.database_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="damaged.*left untouched"):
        Store.open(path)
    assert path.read_bytes() == b"this is not sqlite" * 100


def test_locked_database_write_says_locked_and_what_to_do(store):
    chat = store.create_conversation()
    other = sqlite3.connect(paths.database_path(), isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    store.connection.execute("PRAGMA busy_timeout = 50")
    with pytest.raises(StoreError, match="locked by another program"):
        store.add_message(chat.id, "user", "hello")
    other.execute("ROLLBACK")
    other.close()
    store.add_message(chat.id, "user", "hello")


def test_database_from_a_newer_version_is_refused_clearly():
    path = paths.database_path()
    path.parent.mkdir(parents=True)
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StoreError, match="newer dflash-tui"):
        Store.open(path)


def test_recent_prompts_span_conversations_oldest_first(store):
    a, b = store.create_conversation(), store.create_conversation()
    store.add_message(a.id, "user", "one")
    store.add_message(a.id, "assistant", "reply")
    store.add_message(b.id, "user", "two")
    assert store.recent_prompts() == ["one", "two"] and store.recent_prompts(limit=1) == ["two"]
