"""Output cache safety (issue 10, point 4): a damaged cache file is moved aside and the run goes on with a
fresh cache; the model key covers the adapter's cache version, its libraries' versions and the hub
revision; `mmx cache info` / `mmx cache clear` report and clear mmx's own cache file and nothing else."""
import json
import sqlite3
import sys

import numpy as np
import pytest
import typer

from mmx import cache as mcache
from mmx.cache import OutputCache, is_corruption, model_key
from mmx.models.clip import HFClip
from mmx.models.tiny import build_tiny
from mmx.registry import model_families

from cli_runner import cli

PAGE = 4096  # SQLite's default page size


def _pattern(n: int) -> bytes:
    return bytes((i * 7 + 3) % 256 for i in range(n))  # deterministic "garbage"


# Ways a cache file gets damaged: a copy or disk-full cut short, a bad page, something else in its place.
DAMAGES = {
    "truncated": lambda b: b[:len(b) // 2],
    "truncated-to-header": lambda b: b[:100],
    "bad-page": lambda b: b[:PAGE * 2] + _pattern(PAGE) + b[PAGE * 3:],
    "garbage": lambda b: _pattern(5000),
    "not-sqlite": lambda b: b"language,score\nen,0.5\n" * 50,
}


def _aside(root):
    """Damaged files set aside (their -wal/-shm companions, if any, travel with them)."""
    return sorted(p for p in root.glob("outputs.sqlite.corrupt-*") if not p.name.endswith(("-wal", "-shm")))


def _filled(root):
    c = OutputCache(root)
    rng = np.random.default_rng(0)
    c.put_many("k|image-emb", {str(i): rng.random(256, dtype=np.float32) for i in range(300)})
    c.close()
    return root / "outputs.sqlite"


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_damaged_cache_file_is_set_aside_and_a_fresh_one_used(tmp_path, capsys, damage):
    f = _filled(tmp_path)
    damaged = DAMAGES[damage](f.read_bytes())
    f.write_bytes(damaged)
    c = OutputCache(tmp_path)
    got = c.get_many("k|image-emb", [str(i) for i in range(300)])  # SQLite notices on open or here
    c.put_many("k|image-emb", {"new": np.ones(3, np.float32)})
    assert c.get_many("k|image-emb", ["new"])["new"].tolist() == [1, 1, 1]
    c.close()
    assert got == {}  # nothing read from the damaged file counts as a hit
    aside = _aside(tmp_path)
    assert len(aside) == 1 and c.set_aside == aside
    assert aside[0].read_bytes() == damaged  # kept as it was, for a post-mortem
    err = capsys.readouterr().err
    assert "is damaged" in err and aside[0].name in err
    assert OutputCache(tmp_path).get_many("k|image-emb", ["new"])["new"].tolist() == [1, 1, 1]  # the fresh file


def test_a_sound_cache_is_never_set_aside(tmp_path, capsys):
    _filled(tmp_path)
    c = OutputCache(tmp_path)
    assert len(c.get_many("k|image-emb", [str(i) for i in range(300)])) == 300
    assert not list(tmp_path.glob("*.corrupt-*")) and "damaged" not in capsys.readouterr().err
    assert not is_corruption(sqlite3.OperationalError("database is locked"))  # busy is not damage
    assert is_corruption(sqlite3.DatabaseError("database disk image is malformed"))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny("hf-clip", tmp_path_factory.mktemp("m") / "clip")


def _evaluate(capsys, tiny, out):
    code, _, err = cli(capsys, "evaluate", "--suite", "vision", "--model", tiny, "--no-progress", "--output", out)
    assert code == 0, err
    return json.loads((out / "results.json").read_text()), err


def _scores(res):
    return {n: (t["overall"], t["languages"]) for n, t in res["tasks"].items()}


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_a_run_over_a_damaged_cache_goes_on(tiny, tmp_path, capsys, monkeypatch, damage):
    cache = tmp_path / "cache"
    monkeypatch.setenv("MMX_CACHE_DIR", str(cache))
    first, _ = _evaluate(capsys, tiny, tmp_path / "a")
    f = cache / "outputs.sqlite"
    f.write_bytes(DAMAGES[damage](f.read_bytes()))
    second, err = _evaluate(capsys, tiny, tmp_path / "b")
    assert "Traceback" not in err and "is damaged" in err and "moved it aside" in err
    assert second["run"]["model_loaded"] and second["run"]["cache_misses"] > 0  # recomputed, not read
    assert _scores(second) == _scores(first)
    assert len(_aside(cache)) == 1
    third, err = _evaluate(capsys, tiny, tmp_path / "c")  # the fresh cache serves the next run
    assert third["run"]["cache_misses"] == 0 and third["run"]["cache_hits"] > 0 and "damaged" not in err


def test_model_key_covers_adapter_version_libraries_and_hub_revision(tmp_path, monkeypatch):
    import huggingface_hub.constants

    hub = tmp_path / "hub"  # an empty local HF cache: the model is not downloaded
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(hub))
    spec, args = "hf-clip:openai/clip-vit-base-patch32", {}
    base = model_key(spec, args, HFClip)
    assert model_key(spec, args, HFClip) == base

    class Bumped(HFClip):  # mmx changed the adapter's preprocessing
        cache_version = HFClip.cache_version + 1

    assert model_key(spec, args, Bumped) != base

    real = mcache.library_version
    assert len(HFClip.cache_libraries) >= 2
    for lib in HFClip.cache_libraries:
        monkeypatch.setattr(mcache, "library_version", lambda name, lib=lib: "0.0.1" if name == lib else real(name))
        assert model_key(spec, args, HFClip) != base, lib
    monkeypatch.setattr(mcache, "library_version", real)
    assert model_key(spec, args, HFClip) == base

    refs = hub / "models--openai--clip-vit-base-patch32" / "refs"
    refs.mkdir(parents=True)
    (refs / "main").write_text("a" * 40)
    at_a = model_key(spec, args, HFClip)
    (refs / "main").write_text("b" * 40)  # the hub id now resolves to another commit
    at_b = model_key(spec, args, HFClip)
    assert len({base, at_a, at_b}) == 3
    (refs / "v1").write_text("c" * 40)
    pinned = model_key(spec, {"revision": "v1"}, HFClip)
    (refs / "v1").write_text("d" * 40)
    assert model_key(spec, {"revision": "v1"}, HFClip) != pinned  # a branch or tag is resolved too
    assert mcache.hub_revision("openai/clip-vit-base-patch32", "e" * 40) == "e" * 40


def test_every_family_declares_its_cache_version_and_libraries():
    for name, cls in model_families().items():
        assert isinstance(vars(cls).get("cache_version"), int), f"{name} ({cls.__name__}) has no cache_version"
        libs = vars(cls).get("cache_libraries")
        assert isinstance(libs, tuple), f"{name} ({cls.__name__}) has no cache_libraries"
        assert all(mcache.library_version(lib) != "absent" for lib in libs), (name, libs)  # no misspelt names


def test_a_run_misses_the_cache_when_a_library_version_changes(tiny, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MMX_CACHE_DIR", str(tmp_path / "cache"))
    _evaluate(capsys, tiny, tmp_path / "a")
    warm, _ = _evaluate(capsys, tiny, tmp_path / "b")
    assert warm["run"]["cache_misses"] == 0
    real = mcache.library_version
    monkeypatch.setattr(mcache, "library_version", lambda n: "99.0" if n == "transformers" else real(n))
    upgraded, _ = _evaluate(capsys, tiny, tmp_path / "c")
    assert upgraded["run"]["model_loaded"] and upgraded["run"]["cache_hits"] == 0


class _Tty:
    def isatty(self):
        return True


def test_cache_info_and_clear(tiny, tmp_path, capsys, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("MMX_CACHE_DIR", str(cache))
    _evaluate(capsys, tiny, tmp_path / "a")
    (cache / "my-notes.txt").write_text("mine")
    code, out, _ = cli(capsys, "cache", "info", "--json")
    info = json.loads(out)
    assert code == 0 and info["path"] == str(cache / "outputs.sqlite") and info["models"] == 1
    assert {"image-emb", "text-emb", "model-info"} <= set(info["kinds"]) and info["size_bytes"] > 0
    assert info["entries"] == sum(k["entries"] for k in info["kinds"].values()) > 0
    code, out, _ = cli(capsys, "cache", "info")
    assert code == 0 and "image-emb:" in out and str(cache / "outputs.sqlite") in out

    code, _, err = cli(capsys, "cache", "clear")  # not a terminal, no --yes: refused
    assert code == 2 and "--yes" in err and "Traceback" not in err
    monkeypatch.setattr(sys, "stdin", _Tty())
    monkeypatch.setattr(typer, "confirm", lambda msg: False)
    code, out, _ = cli(capsys, "cache", "clear")
    assert code == 0 and "nothing deleted" in out
    assert json.loads(cli(capsys, "cache", "info", "--json")[1])["entries"] == info["entries"]
    monkeypatch.setattr(typer, "confirm", lambda msg: True)
    code, out, _ = cli(capsys, "cache", "clear")
    assert code == 0 and f"deleted {info['entries']} cached outputs" in out
    assert json.loads(cli(capsys, "cache", "info", "--json")[1])["entries"] == 0
    assert (cache / "my-notes.txt").read_text() == "mine"  # only the cache's entries went
    again, _ = _evaluate(capsys, tiny, tmp_path / "b")
    assert again["run"]["cache_hits"] == 0 and again["run"]["model_loaded"]


def test_cache_clear_refuses_what_is_not_an_mmx_cache(tmp_path, capsys):
    other = tmp_path / "app.sqlite"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE users (name TEXT)")
    db.execute("INSERT INTO users VALUES ('ada')")
    db.commit()
    db.close()
    text = tmp_path / "outputs.sqlite"
    text.write_text("not a database, but named like one\n" * 200)
    before = {p: p.read_bytes() for p in (other, text)}
    for target, why in ((other, "not an mmx output cache"), (text, "not a readable mmx output cache"),
                        (tmp_path, "not a readable mmx output cache"), (tmp_path / "nope", "does not exist")):
        code, _, err = cli(capsys, "cache", "clear", "--yes", "--dir", target)
        assert code == 2 and why in err and "Traceback" not in err, (target, err)
    assert {p: p.read_bytes() for p in (other, text)} == before
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "keep.txt").write_text("x")
    code, out, _ = cli(capsys, "cache", "clear", "--yes", "--dir", folder)  # no cache there: nothing to do
    assert code == 0 and (folder / "keep.txt").exists() and not (folder / "outputs.sqlite").exists()


def test_clear_removes_set_aside_files_and_reads_an_older_cache(tmp_path, capsys):
    # A cache written by an older mmx: no namespace column, no application id.
    db = sqlite3.connect(tmp_path / "outputs.sqlite")
    db.execute("CREATE TABLE out (key TEXT PRIMARY KEY, kind TEXT, value BLOB)")
    db.execute("INSERT INTO out VALUES ('k1', 'json', '\"hi\"')")
    db.commit()
    db.close()
    info = mcache.cache_info(tmp_path)
    assert info["entries"] == 1 and info["kinds"] == {"unknown (older mmx)": {"entries": 1, "bytes": 4}}
    c = OutputCache(tmp_path)  # opening it upgrades the table in place, entries kept
    c.put_many("m|asr|en", {"x": "text"})
    c.close()
    assert mcache.cache_info(tmp_path)["entries"] == 2
    (tmp_path / "outputs.sqlite.corrupt-20260101-000000").write_bytes(b"junk")
    code, out, _ = cli(capsys, "cache", "clear", "--yes", "--dir", tmp_path)
    assert code == 0 and "1 damaged file(s)" in out
    assert not list(tmp_path.glob("*.corrupt-*")) and mcache.cache_info(tmp_path)["entries"] == 0


def test_transport_args_do_not_change_the_key_but_what_is_asked_does():
    from mmx.models.codegen import OpenAICompatible

    spec = "openai:my-coder"
    base = model_key(spec, {"base_url": "http://h:1/v1", "mode": "chat"}, OpenAICompatible)
    retuned = {"base_url": "http://h:1/v1", "mode": "chat", "timeout": "30", "max_retries": "9",
               "concurrency": "64", "api_key": "sk-rotated"}
    assert model_key(spec, retuned, OpenAICompatible) == base  # same requests, same answers: a cache hit
    assert model_key(spec, {"base_url": "http://h:1/v1", "mode": "completions"}, OpenAICompatible) != base
    assert model_key(spec, {"base_url": "http://h:2/v1", "mode": "chat"}, OpenAICompatible) != base
    # a family that does not declare them keeps every arg in its key
    assert model_key(spec, retuned, HFClip) != model_key(spec, {"base_url": "http://h:1/v1", "mode": "chat"}, HFClip)
