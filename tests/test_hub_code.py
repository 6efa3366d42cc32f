"""Hub loading of the code benchmarks (HumanEval-XL, MultiPL-E, CRUXEval-X) on offline copies in the Hub's form."""
import json

import pytest

import hub_fixtures_code as F
from cli_runner import cli
from code_server import CompletionServer
from mmx.data import code as code_data
from mmx.data.code import load_cruxeval_x, load_humaneval_xl, load_multipl_e
from mmx.errors import MmxError
from mmx.execution import EXECUTORS


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    F.with_catalogue(monkeypatch)
    F.private_datasets_cache(monkeypatch, tmp_path / "hf-cache")


def _spy_loads(monkeypatch):
    """Record every hub.load call's source and streaming flag (and still load)."""
    calls = []
    real = code_data.hub.load

    def load(source, **kw):
        calls.append({"source": str(source), **kw})
        return real(source, **kw)

    monkeypatch.setattr(code_data.hub, "load", load)
    return calls


# ------------------------------------------------------------------------------------------ HumanEval-XL
def test_humaneval_xl_hub_rows_make_the_same_problems_as_the_github_files(shared_data, tmp_path):
    root = shared_data / "humaneval-xl"
    hub = F.humaneval_xl(tmp_path / "hexl", root, pls=("python", "java"), naturals=("English", "German", "Chinese"), n=4)
    for pl in ("python", "java"):
        via_hub = load_humaneval_xl(programming_language=pl, source=str(hub))
        via_git = load_humaneval_xl(root, pl, languages=["en", "de", "zh"], limit=4)
        assert sorted(via_hub.languages) == ["de", "en", "zh"]
        for lang in ("en", "de", "zh"):
            assert via_hub.problems[lang] == via_git.problems[lang]  # every field, exactly
            assert len(via_hub.problems[lang]) == 4
    en = load_humaneval_xl(programming_language="python", source=str(hub), languages=["en"]).problems["en"][0]
    first = json.loads((root / "python" / "English.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert (en.id, en.prompt, en.test, en.entry_point) == (first["task_id"], first["prompt"], first["test"], "below_zero")
    assert en.canonical_solution == first["canonical_solution"]
    java = load_humaneval_xl(programming_language="java", source=str(hub), languages=["de"]).problems["de"][0]
    assert java.canonical_solution is None  # NaN in the JSON: no canonical solution


def test_humaneval_xl_limit_streams_and_languages_filter(shared_data, tmp_path, monkeypatch):
    hub = F.humaneval_xl(tmp_path / "hexl", shared_data / "humaneval-xl", naturals=("English", "German"), n=5)
    calls = _spy_loads(monkeypatch)
    d = load_humaneval_xl(programming_language="python", source=str(hub), languages=["German"], limit=2)
    assert d.languages == ["de"] and len(d.problems["de"]) == 2
    assert [(c["split"], c["streaming"], c["data_files"]) for c in calls] == [
        ("German", True, {"German": "data/python/German.jsonl"})]  # only that file, streamed
    full = load_humaneval_xl(programming_language="python", source=str(hub))
    assert calls[-1]["streaming"] is False and {len(v) for v in full.problems.values()} == {5}
    assert d.fingerprint != load_humaneval_xl(programming_language="python", source=str(hub), languages=["de"],
                                              limit=3).fingerprint
    with pytest.raises(MmxError, match=r"no python file for language\(s\) ja.*it has de, en"):
        load_humaneval_xl(programming_language="python", source=str(hub), languages=["ja"])


def test_humaneval_xl_default_source_is_the_catalogues_hub_id(monkeypatch):
    from mmx.tasks.base import load_task

    spec = load_task("humaneval_xl_python")
    assert "root" not in spec.dataset and "source" not in spec.dataset  # the task reads the Hub by default
    seen = []
    monkeypatch.setattr(code_data.hub, "load", lambda source, **kw: seen.append((source, kw["split"])) or [])
    load_humaneval_xl(programming_language="python", languages=["en", "fr"], limit=1)
    assert seen == [("FloatAI/humaneval-xl", "English"), ("FloatAI/humaneval-xl", "French")]


def test_humaneval_xl_bad_rows_are_named(shared_data, tmp_path):
    hub = F.humaneval_xl(tmp_path / "hexl", shared_data / "humaneval-xl", naturals=("English",), n=2)
    f = hub / "data" / "python" / "English.jsonl"
    rows = [json.loads(x) for x in f.read_text().splitlines()]
    del rows[1]["test"]
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(MmxError, match=r"English.jsonl, row 1 \(python/1\): 'test' is NoneType"):
        load_humaneval_xl(programming_language="python", source=str(hub))
    f.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "test"}) + "\n" for r in rows))
    with pytest.raises(MmxError, match=r"column\(s\) test missing; the data has task_id"):
        load_humaneval_xl(programming_language="python", source=str(hub))
    with pytest.raises(MmxError, match="no HumanEval-XL files in .*data/java"):
        load_humaneval_xl(programming_language="java", source=str(hub))


def test_humaneval_xl_task_runs_end_to_end_from_the_hub_copy(shared_data, tmp_path, capsys):
    hub = F.humaneval_xl(tmp_path / "hexl", shared_data / "humaneval-xl", naturals=("English", "German"), n=3)
    canon = {}
    for nl in ("English", "German"):
        for line in (hub / "data" / "python" / f"{nl}.jsonl").read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            canon[r["prompt"]] = r["canonical_solution"]
    with CompletionServer(lambda p, j: canon[p]) as srv:
        code, out, err = cli(capsys, "evaluate", "--model", "openai:canon-bot", "--model-args", f"base_url={srv.url}",
                             "--tasks", "humaneval_xl_python", "--data-args", f"source={hub}",
                             "--output", tmp_path / "run", "--no-progress", "--no-cache")
    assert code == 0, err
    res = json.loads((tmp_path / "run" / "results.json").read_text())["tasks"]["humaneval_xl_python"]
    assert set(res["languages"]) == {"en", "de"} and res["n_records"] == 6
    assert all(res["languages"][x]["metrics"]["pass@1"] == 1.0 for x in ("en", "de"))


# ------------------------------------------------------------------------------------------- MultiPL-E
def test_multipl_e_hub_config_maps_fields_and_runs(tmp_path, monkeypatch):
    hub = F.multipl_e(tmp_path / "mpe")
    d = load_multipl_e(source=str(hub), config="humaneval-py")
    add, strlen = d.problems["en"]
    row = F.MULTIPL_E_ROWS[0]
    assert d.programming_language == "python" and (add.id, add.prompt, add.test) == (row["name"], row["prompt"], row["tests"])
    assert add.stop == row["stop_tokens"] and add.style == "multipl-e" and strlen.id == "HumanEval_23_strlen"
    ex = EXECUTORS["python"]
    assert ex.execute(ex.program(add.prompt, "    return x + y\n", add.test, add.entry_point, add.style)).ok
    assert not ex.execute(ex.program(add.prompt, "    return x - y\n", add.test, add.entry_point, add.style)).ok
    calls = _spy_loads(monkeypatch)
    one = load_multipl_e(source=str(hub), config="humaneval-py", limit=1)
    assert len(one.problems["en"]) == 1 and calls[0]["streaming"] is True and calls[0]["config"] == "humaneval-py"
    assert one.fingerprint != d.fingerprint


def test_multipl_e_hub_errors(tmp_path):
    hub = F.multipl_e(tmp_path / "mpe")
    with pytest.raises(MmxError, match="needs its config.*config=humaneval-py"):
        load_multipl_e(source=str(hub))
    with pytest.raises(MmxError, match="humaneval-js"):  # datasets names the configs there are
        load_multipl_e(source=str(hub), config="humaneval-js")
    with pytest.raises(MmxError, match="holds en prompts only"):
        load_multipl_e(source=str(hub), config="humaneval-py", languages=["de"])
    with pytest.raises(MmxError, match="row 0 is python, expected javascript"):
        load_multipl_e(source=str(hub), config="humaneval-py", programming_language="javascript")
    bad = F.multipl_e(tmp_path / "bad", drop=("tests",))
    with pytest.raises(MmxError, match=r"multipl_e .*column\(s\) tests missing"):
        load_multipl_e(source=str(bad), config="humaneval-py")


# ------------------------------------------------------------------------------------------ CRUXEval-X
def test_cruxeval_x_rows_split_into_function_input_and_output(tmp_path):
    hub = F.cruxeval_x(tmp_path / "crux")
    d = load_cruxeval_x("python", source=str(hub))
    assert d.languages == ["en"] and [p.id for p in d.problems["en"]] == ["2", "3", "9", "17"]
    p = d.problems["en"][3]
    assert p.code == "def f(text: str) -> int:    \n    return text.find(\",\")\n\n"
    assert (p.input, p.output) == ("'There are, no, commas, in this text'", "9")
    assert p.output_test.startswith("def check(candidate):\n    assert candidate('There are, no, commas, in this text') == ????")
    assert p.code + p.output_test.replace("????", p.output) == F.CRUX_PY[3]["code"]  # the row's program again
    assert p.code + p.input_test.replace("????", p.input) == F.CRUX_PY[3]["code"]
    js = load_cruxeval_x("javascript", source=str(hub), limit=2)
    assert [(q.input, q.output) for q in js.problems["en"]] == [
        ("[1, 1, 3, 1, 3, 1]", "[[4, 1], [4, 1], [4, 1], [4, 1], [2, 3], [2, 3]]"), ('"hbtofdeiequ"', '"hbtofdeiequ"')]
    assert js.problems["en"][0].code.endswith("return output;\n}\n")


def test_cruxeval_x_limit_streams_and_fingerprint_follows_the_selection(tmp_path, monkeypatch):
    hub = F.cruxeval_x(tmp_path / "crux")
    calls = _spy_loads(monkeypatch)
    two = load_cruxeval_x("python", source=str(hub), limit=2)
    assert len(two.problems["en"]) == 2 and calls[0]["streaming"] is True and calls[0]["split"] == "Python"
    every = load_cruxeval_x("python", source=str(hub))
    assert calls[1]["streaming"] is False and len(every.problems["en"]) == 4 and two.fingerprint != every.fingerprint
    seen = []
    monkeypatch.setattr(code_data.hub, "load", lambda source, **kw: seen.append((source, kw["split"])) or [])
    load_cruxeval_x("javascript", limit=1)
    assert seen == [("xhwl/cruxeval-x", "JavaScript")]  # no source: the catalogue's Hub id


def test_cruxeval_x_bad_data_is_named(tmp_path):
    with pytest.raises(MmxError, match="no kotlin split"):
        load_cruxeval_x("kotlin", source=str(F.cruxeval_x(tmp_path / "a")))
    with pytest.raises(MmxError, match="language.*de"):
        load_cruxeval_x("python", source=str(tmp_path / "a"), languages=["de"])
    with pytest.raises(MmxError, match=r"cruxeval_x .*column\(s\) output_reasoning missing; the data has id, code"):
        load_cruxeval_x("python", source=str(F.cruxeval_x(tmp_path / "b", drop=("output_reasoning",))))
    rows = [dict(r) for r in F.CRUX_PY]
    rows[1]["output_reasoning"] = rows[1]["output_reasoning"].replace("candidate(", "f(")
    with pytest.raises(MmxError, match=r"split Python, row 1 \(id 3\) output_reasoning: the code does not"):
        load_cruxeval_x("python", source=str(F.cruxeval_x(tmp_path / "c", splits={"Python": rows})))
    rows[1] = {**F.CRUX_PY[1], "input_reasoning": F.CRUX_PY[1]["input_reasoning"].replace("????", "?")}
    with pytest.raises(MmxError, match=r"row 1 \(id 3\) input_reasoning: .*one \?\?\?\?, it has 0"):
        load_cruxeval_x("python", source=str(F.cruxeval_x(tmp_path / "d", splits={"Python": rows})))
    with pytest.raises(MmxError, match="Rust|split"):  # a split the copy does not have: datasets lists them
        load_cruxeval_x("python", source=str(tmp_path / "a"), split="Rust")


def test_humaneval_xl_falls_back_to_the_github_files_when_the_hub_has_none(shared_data, tmp_path, monkeypatch):
    """The Hub repository is a loading script whose data files could not be confirmed: the same files are read
    from GitHub (raw URLs, through datasets' json builder), here served over HTTP from ../shared's copy."""
    import functools
    import http.server
    import threading

    from mmx.data import hub

    served = []  # (the autouse fixture gives a private datasets cache)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a):
            served.append(self.path)

    srv = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(shared_data / "humaneval-xl")))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    monkeypatch.setattr(code_data, "HUMANEVAL_XL_RAW", f"http://127.0.0.1:{srv.server_address[1]}/")
    real = hub.load

    def no_hub_files(src, **kw):  # what the Hub answers today: no data files in the repository
        if src != "json":
            raise MmxError(f"humaneval_xl ({src}): no data files found")
        return real(src, **kw)

    monkeypatch.setattr(hub, "load", no_hub_files)
    monkeypatch.setenv("MMX_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # the GitHub side is fetched (from the local server)
    try:
        got = load_humaneval_xl(programming_language="python", languages=["en", "de"], limit=4)
    finally:
        srv.shutdown()
    want = load_humaneval_xl(shared_data / "humaneval-xl", "python", languages=["en", "de"], limit=4)
    assert got.problems == want.problems and len(got.problems["de"]) == 4
    assert {"/python/English.jsonl", "/python/German.jsonl"} <= set(p.split("?")[0] for p in served)
