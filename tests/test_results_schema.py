"""results.json is typed and versioned (mmx/results.py): real runs validate against the published JSON
Schema with an independent validator (jsonschema), a broken file does not, the runner refuses to write a
file that does not match, a version-1 file (as mmx wrote it at commit 969c76b) is upgraded and still
reported and compared, and a newer version is refused."""
import copy
import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from cli_runner import cli
from code_server import CompletionServer
from mmx import results
from mmx.errors import MmxError
from mmx.models.tiny import build_tiny
from mmx.report.aggregate import aggregate_task
from mmx.schema import SCHEMA_VERSION, Record, RecordStore, read_results, write_json

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                  reason="missing Debian package espeak-ng (make sysdeps installs it)")


def validator(name="results"):
    schema = json.loads(results.SCHEMA_FILES[name].read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def schema_errors(doc, name="results"):
    return sorted(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator(name).iter_errors(doc))


def check_run(run: Path):
    """results.json, run.json and every samples line of a real run against the published schemas."""
    res = json.loads((run / "results.json").read_text())
    assert res["schema_version"] == SCHEMA_VERSION == 3
    assert schema_errors(res) == []
    run_schema = jsonschema.Draft202012Validator(results.json_schema("run"))
    assert list(run_schema.iter_errors(json.loads((run / "run.json").read_text()))) == []
    lines = [json.loads(x) for f in (run / "samples").glob("*.jsonl") for x in f.read_text().splitlines()]
    assert lines and all(schema_errors(r, "samples") == [] for r in lines)
    return res


def test_published_schemas_are_what_the_types_generate():
    for name, path in results.SCHEMA_FILES.items():
        published = json.loads(path.read_text(encoding="utf-8"))
        jsonschema.Draft202012Validator.check_schema(published)
        assert published == results.json_schema(name), f"{path} is stale: regenerate it (results.write_schema_files)"
    assert results.json_schema()["properties"]["schema_version"]["const"] == SCHEMA_VERSION


@pytest.fixture(scope="module")
def clip_run(tmp_path_factory):
    from cli_runner import run_main

    d = tmp_path_factory.mktemp("schema-clip")
    clip = build_tiny("hf-clip", d / "clip", seed=0)
    assert run_main("evaluate", "--tasks", "probe_retrieval", "--model", clip, "--languages", "en,de,ja",
                    "--limit", 4, "--output", d / "run", "--no-progress", "--no-cache") == 0
    return d / "run"


def test_real_clip_retrieval_run_validates(clip_run, capsys):
    res = check_run(clip_run)
    task = res["tasks"]["probe_retrieval"]
    assert sorted(task["languages"]) == ["de", "en", "ja"] and "upgrade" not in res
    # `mmx schema results` prints the published file; --check accepts the run.
    code, out, _ = cli(capsys, "schema", "results")
    assert code == 0 and json.loads(out) == json.loads(results.SCHEMA_FILES["results"].read_text())
    code, out, _ = cli(capsys, "schema", "results", "--check", clip_run)
    assert code == 0 and "ok against the results schema, version 3" in out


@needs_espeak
def test_real_speech_translation_run_validates(tmp_path, capsys):
    from mmx.models.tiny_speech import build_tiny_whisper

    whisper = build_tiny_whisper(tmp_path / "whisper")
    code, _, err = cli(capsys, "evaluate", "--tasks", "probe_st", "--model", f"hf-whisper:{whisper}", "--languages",
                       "de,fr", "--limit", 2, "--output", tmp_path / "run", "--no-progress", "--no-cache")
    assert code == 0, err
    task = check_run(tmp_path / "run")["tasks"]["probe_st"]
    assert task["target_language"] == "en" and task["metric_defs"]["bleu"]["reducer"] == "bleu"


def test_real_code_run_through_a_local_openai_server_validates(shared_data, tmp_path, capsys):
    canon = {}
    for line in (shared_data / "humaneval-xl" / "python" / "English.jsonl").read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        canon[r["prompt"]] = r["canonical_solution"]
    with CompletionServer(lambda p, j: canon[p]) as srv:
        code, _, err = cli(capsys, "evaluate", "--model", "openai:canon-bot", "--model-args", f"base_url={srv.url}",
                           "--tasks", "humaneval_xl_python", "--languages", "en", "--limit", "3",
                           "--data-args", f"root={shared_data / 'humaneval-xl'}",
                           "--output", tmp_path / "run", "--no-progress", "--no-cache")
    assert code == 0, err
    task = check_run(tmp_path / "run")["tasks"]["humaneval_xl_python"]
    assert task["languages"]["en"]["metrics"]["pass@1"] == 1.0 and task["execution"]["harness"]


def test_a_removed_field_or_a_wrong_type_fails_validation(clip_run, tmp_path, capsys):
    good = json.loads((clip_run / "results.json").read_text())
    broken = []
    for edit in (lambda t: t["metric_defs"]["t2i_r1"].pop("reducer"),           # removed
                 lambda t: t.pop("primary_metric"),                              # removed
                 lambda t: t["languages"]["de"].update(n_records="8"),           # a string for an int
                 lambda t: t["languages"]["de"]["metrics"].update(t2i_r1="0.5"),  # a string for a number
                 lambda t: t["overall"]["macro_ci"].update(t2i_r1=[0.1]),        # an interval of one end
                 lambda t: t["languages"]["de"].update(counts=t["languages"]["de"].pop("n"))):  # renamed
        doc = copy.deepcopy(good)
        edit(doc["tasks"]["probe_retrieval"])
        broken.append(doc)
        assert schema_errors(doc), edit
        assert results.errors(doc)  # the types (what the runner checks) agree with the published schema
    doc = copy.deepcopy(good)
    doc["run"].pop("seed")
    assert any("seed" in e for e in schema_errors(doc))
    write_json(tmp_path / "results.json", broken[0])
    code, out, _ = cli(capsys, "schema", "results", "--check", tmp_path / "results.json")
    assert code == 1 and "metric_defs.t2i_r1.reducer: Field required" in out


def test_the_runner_refuses_to_write_a_results_json_that_does_not_match(tmp_path, capsys, monkeypatch):
    import mmx.runner

    real = mmx.runner.aggregate_task
    monkeypatch.setattr(mmx.runner, "aggregate_task", lambda *a, **k: {
        k2: v for k2, v in real(*a, **k).items() if k2 != "spread"})  # a section renamed away or forgotten
    clip = build_tiny("hf-clip", tmp_path / "clip", seed=0)
    code, _, err = cli(capsys, "evaluate", "--tasks", "probe_retrieval", "--model", clip, "--languages", "en",
                       "--limit", 2, "--output", tmp_path / "run", "--no-progress", "--no-cache")
    assert code == 2 and "tasks.probe_retrieval.spread: Field required" in err
    assert not (tmp_path / "run" / "results.json").exists()
    assert (tmp_path / "run" / "samples" / "probe_retrieval.jsonl").stat().st_size > 0  # the samples are kept


# --- version 1 ----------------------------------------------------------------------------------------

SAMPLES = [("en/1", "en", 1.0, 1.0, 4.0), ("en/2", "en", 0.0, 3.0, 6.0),
           ("de/1", "de", 1.0, 0.0, 5.0), ("de/2", "de", 1.0, 1.0, 5.0)]


def v1_results() -> dict:
    """A results.json as mmx wrote it at commit 969c76b (schema_version 1): metric_defs with type/num/den and
    a direction only, no gap_to_en_pairing, no run.allow_unsafe_execution/data_args, no task extras.
    acc: a mean; wer: errors / words summed (en 4/10, de 1/10)."""
    def by(acc, wer):
        return {"acc": acc, "wer": wer}

    group = {"languages": ["de", "en"], "n_records": 4, "macro": by(0.75, 0.25), "micro": by(0.75, 0.25),
             "macro_ci": {"acc": [0.5, 1.0], "wer": [0.15, 0.35]}}
    return {
        "schema_version": 1,
        "run": {"model": "fake:model", "model_args": {}, "tasks": ["syn"], "seed": 1234, "limit": None,
                "data_fingerprints": {"syn": "fp1"}, "suite": None, "device": "cpu", "batch_size": 32,
                "world_size": 1, "languages_requested": None,
                "code_version": {"mmx": "0.1.0", "git_commit": "969c76b" + "0" * 33, "git_dirty": False},
                "command": ["mmx", "evaluate", "--tasks", "syn"], "started": "2026-11-20T10:00:00+0000",
                "cache": None, "host": {"python": "3.11.7", "platform": "Linux", "torch": "2.14.1"},
                "on_error": "fail", "finished": "2026-11-20T10:00:09+0000", "model_load_s": 0.5,
                "model_loaded": True, "cache_hits": 0, "cache_misses": 4},
        "model": {"family": "fake", "name": "model", "random_weights": False, "spec": "fake:model"},
        "tasks": {"syn": {
            "kind": "synthetic", "yaml": "tasks/syn.yaml", "description": "synthetic scores",
            "metrics": ["acc", "wer"], "primary_metric": "acc",
            "dataset": {"loader": "none", "source": "synthetic", "fingerprint": "fp1", "languages": ["de", "en"]},
            "samples_file": "samples/syn.jsonl", "n_records": 4, "seconds_this_session": 1.25,
            "languages": {
                "de": {"n_records": 2, "n": {"acc": 2, "wer": 2}, "metrics": by(1.0, 0.1),
                       "ci": {"acc": [1.0, 1.0], "wer": [0.0, 0.2]}},
                "en": {"n_records": 2, "n": {"acc": 2, "wer": 2}, "metrics": by(0.5, 0.4),
                       "ci": {"acc": [0.0, 1.0], "wer": [0.25, 0.5]}}},
            "overall": {"macro": by(0.75, 0.25), "micro": by(0.75, 0.25),
                        "macro_ci": {"acc": [0.5, 1.0], "wer": [0.15, 0.35]}},
            "gap_to_en": {"de": by(0.5, -0.3), "en": by(0.0, 0.0)},
            "gap_to_en_ci": {"de": {"acc": [0.0, 1.0], "wer": [-0.45, -0.1]},
                             "en": {"acc": [0.0, 0.0], "wer": [0.0, 0.0]}},
            "groups": {"script": {"Latn": group}, "family": {"Indo-European": group}, "resource_level": {"5": group}},
            "spread": {"acc": {"worst_language": "en", "worst": 0.5, "best_language": "de", "best": 1.0,
                               "range": 0.5, "std": 0.25},
                       "wer": {"worst_language": "en", "worst": 0.4, "best_language": "de", "best": 0.1,
                               "range": 0.3, "std": 0.15}},
            "metric_defs": {"acc": {"type": "mean", "higher_is_better": True},
                            "wer": {"type": "ratio", "num": "errors", "den": "words", "higher_is_better": False}},
            "bootstrap": {"method": "percentile", "level": 0.95, "n_resamples": 1000, "seed": 0,
                          "unit": "samples resampled within each language"}}},
    }


def write_v1_run(out: Path, doc: dict) -> Path:
    store = RecordStore(out / "samples" / "syn.jsonl")
    store.write([Record(i, lang, None, None, {"acc": acc, "errors": e, "words": w}) for i, lang, acc, e, w in SAMPLES])
    store.close()
    write_json(out / "results.json", doc)
    return out


def test_a_version_1_file_is_upgraded_then_validates():
    old = v1_results()
    assert any("schema_version" in e for e in schema_errors(old))
    assert any("metric_defs/wer" in e for e in schema_errors({**old, "schema_version": 2}))  # not just relabelled
    new = results.upgrade(old)
    assert schema_errors(new) == [] and results.errors(new) == []
    assert old["schema_version"] == 1 and "stats" not in old["tasks"]["syn"]["metric_defs"]["wer"]  # not mutated
    defs = new["tasks"]["syn"]["metric_defs"]
    # Derived from the file's type/num/den (not the registry's wer, whose statistics are named otherwise) ...
    assert defs["wer"] == {"type": "ratio", "num": "errors", "den": "words", "stats": ["errors", "words"],
                           "reducer": "ratio", "higher_is_better": False, "scale": 100.0, "unit": "points (x100)",
                           "ci": "bootstrap-percentile"}
    assert defs["acc"]["stats"] == ["acc"] and defs["acc"]["reducer"] == "mean"
    # ... and what version 1 did not record is null and listed.
    up = new["upgrade"]
    assert up["from_version"] == 1
    assert sorted(up["absent"]) == ["run.allow_unsafe_execution", "run.data_args", "tasks.syn.gap_to_en_pairing"]
    assert "tasks.syn.metric_defs.wer.stats" in up["derived"] and "tasks.syn.metric_defs.wer.ci" in up["derived"]
    assert new["run"]["data_args"] is None and new["tasks"]["syn"]["gap_to_en_pairing"] is None
    assert new["tasks"]["syn"]["languages"] == old["tasks"]["syn"]["languages"]  # the numbers are untouched


def test_a_version_2_file_is_upgraded_to_3_with_nothing_to_fill():
    v2 = results.upgrade_1_to_2(v1_results())
    v2.pop("upgrade")
    v3 = results.upgrade(v2)
    assert v3["schema_version"] == 3 and v3["upgrade"] == {"from_version": 2, "derived": [], "absent": []}
    assert results.errors(v3) == [] and "provenance" not in v3["tasks"]["syn"]  # optional: absent, not null
    chained = results.upgrade(v1_results())  # 1 -> 2 -> 3 keeps what the first step recorded
    assert chained["upgrade"]["from_version"] == 1 and "run.data_args" in chained["upgrade"]["absent"]


def test_report_and_compare_read_a_version_1_run(tmp_path, capsys):
    old_dir = write_v1_run(tmp_path / "v1", v1_results())
    code, out, err = cli(capsys, "report", old_dir, "--format", "json")
    assert code == 0, err
    assert "schema version 1, read upgraded to version 3" in err and "run.data_args" in err
    task = json.loads(out)["tasks"]["syn"]
    # The file's own numbers and intervals (not recomputed): de's wer CI [0.0, 0.2] was written in it.
    assert task["languages"]["de"]["metrics"] == {"acc": 1.0, "wer": 0.1}
    assert task["languages"]["de"]["ci"]["wer"] == [0.0, 0.2]
    assert task["metric_defs"]["wer"]["reducer"] == "ratio" and task["metric_defs"]["wer"]["ci"] == "bootstrap-percentile"
    # A version-2 run of the same samples, written as the runner writes it, against the version-1 one.
    new_dir = tmp_path / "v2"
    write_v1_run(new_dir, v1_results())
    recs = sorted((Record(i, lang, None, None, {"acc": a, "errors": e, "words": w}) for i, lang, a, e, w in SAMPLES),
                  key=lambda r: (r.language, r.id))
    doc = results.upgrade(v1_results())
    doc.pop("upgrade")
    doc["run"].update(allow_unsafe_execution=False, data_args={})
    doc["tasks"]["syn"].update(aggregate_task(recs, ["acc", "wer"], {"wer": ("errors", "words")}))
    assert results.errors(doc) == []
    write_json(new_dir / "results.json", doc)
    code, out, err = cli(capsys, "compare", old_dir, new_dir, "--format", "json", "--resamples", 200)
    assert code == 0, err
    cmp = json.loads(out)
    assert not cmp["regressions"] and "schema version 1" in err
    # wer, paired from the samples through the upgraded def: the file's num/den keys, en (1 + 3) / (4 + 6).
    code, out, err = cli(capsys, "compare", old_dir, new_dir, "--format", "json", "--metric", "wer", "--resamples", 200)
    assert code == 0, err
    en = [c for c in json.loads(out)["changes"] if c["language"] == "en"][0]
    assert en["metric"] == "wer" and en["baseline"] == pytest.approx(0.4) and en["new"] == pytest.approx(0.4)


def test_a_version_1_file_from_before_intervals_is_completed_from_the_samples(tmp_path, capsys):
    doc = v1_results()
    t = doc["tasks"]["syn"]
    for key in ("gap_to_en_ci", "groups", "spread", "bootstrap"):
        t.pop(key)
    t["overall"].pop("macro_ci")
    for d in t["languages"].values():
        d.pop("ci")
    run = write_v1_run(tmp_path / "old", doc)
    new = read_results(run)
    assert schema_errors(new) == []
    assert {"tasks.syn.groups", "tasks.syn.languages.de.ci", "tasks.syn.metric_defs.acc.ci"} <= set(new["upgrade"]["absent"])
    code, out, err = cli(capsys, "report", run, "--format", "json")
    assert code == 0, err
    task = json.loads(out)["tasks"]["syn"]
    assert task["groups"]["script"]["Latn"]["micro"]["wer"] == pytest.approx(5 / 20)  # recomputed: (4 + 1) / (10 + 10)
    assert task["languages"]["en"]["ci"]["acc"] is not None


@pytest.mark.parametrize("version, message", [
    (4, "schema_version 4 was written by a newer mmx; this mmx reads versions 1 to 3. Upgrade mmx"),
    (None, "schema_version None is not one mmx wrote"),
    ("2", "schema_version '2' is not one mmx wrote"),
    (0, "schema_version 0 is not one mmx wrote")])
def test_unknown_versions_are_refused(tmp_path, capsys, version, message):
    doc = results.upgrade(v1_results())
    doc["schema_version"] = version
    run = write_v1_run(tmp_path / "run", doc)
    with pytest.raises(MmxError, match=message.replace(".", r"\.")):
        read_results(run)
    code, _, err = cli(capsys, "report", run)
    assert code == 2 and message in err and "Traceback" not in err


def test_a_run_folder_of_version_1_can_be_resumed_or_overwritten(tmp_path, capsys):
    clip = build_tiny("hf-clip", tmp_path / "clip", seed=0)
    args = ["evaluate", "--tasks", "probe_retrieval", "--model", clip, "--languages", "en", "--limit", 2,
            "--output", tmp_path / "run", "--no-progress", "--no-cache"]
    assert cli(capsys, *args)[0] == 0
    run_json = tmp_path / "run" / "run.json"
    write_json(run_json, {**json.loads(run_json.read_text()), "schema_version": 1})  # as version 1 wrote it
    code, _, err = cli(capsys, *args)
    assert code == 0, err
    assert json.loads((tmp_path / "run" / "results.json").read_text())["schema_version"] == 3
