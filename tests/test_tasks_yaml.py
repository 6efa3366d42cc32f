"""Task and suite YAML: the built-ins parse; bad files give errors that name the file."""
import pytest

from mmx.errors import MmxError
from mmx.registry import get_model_family, get_task_kind
from mmx.tasks.base import all_suites, all_tasks, load_suite, load_task, parse_suite, parse_task


def test_builtin_tasks_and_suites_parse():
    names = {t.name for t in all_tasks()}
    assert {"probe_retrieval", "xtd10_retrieval", "xflickrco_retrieval", "xm3600_retrieval"} <= names
    for t in all_tasks():
        get_task_kind(t.kind)  # every YAML names a registered kind
    suites = {s.name: s for s in all_suites()}
    assert suites["vision"].tasks == ["probe_retrieval"]
    assert suites["vision"].default_model.startswith("open_clip:")
    for s in suites.values():
        get_model_family(s.default_model.split(":")[0])
        for t in s.tasks:
            load_task(t)


def test_builtin_tasks_use_only_known_keys_and_metrics():
    for t in all_tasks():
        get_task_kind(t.kind)(t).check_spec()  # the yaml_keys of each kind cover what the built-ins write


def test_unknown_task_and_suite_keys(tmp_path):
    p = tmp_path / "t.yaml"
    p.write_text("task: x\nkind: retrieval\ndataset: {loader: caption_json}\nmetrics: [t2i_r1]\nlanguage: [de]\n")
    with pytest.raises(MmxError, match=r"t.yaml: task x: unknown key 'language'\. Did you mean 'languages'\?"):
        get_task_kind("retrieval")(parse_task(p)).check_spec()
    p.write_text("task: x\nkind: vqa\ndataset: {loader: probe_vqa}\nmetrics: [vqa_acc]\nmax_new_token: 4\n")
    with pytest.raises(MmxError, match="Did you mean 'max_new_tokens'"):
        get_task_kind("vqa")(parse_task(p)).check_spec()
    s = tmp_path / "s.yaml"
    s.write_text("suite: s\ntasks: [probe_retrieval]\ndefault_model: hf-clip:x\ndefault_model_arg: {}\n")
    with pytest.raises(MmxError, match="Did you mean 'default_model_args'"):
        parse_suite(s)


def test_malformed_yaml_names_the_file(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("task: x\nkind: retrieval\ndataset: {loader: caption_json\n")
    with pytest.raises(MmxError, match="bad.yaml: malformed YAML"):
        parse_task(p)


def test_missing_key_and_bad_primary_metric(tmp_path):
    p = tmp_path / "t.yaml"
    p.write_text("task: x\nkind: retrieval\nmetrics: [a]\n")
    with pytest.raises(MmxError, match="t.yaml: missing required key 'dataset'"):
        parse_task(p)
    p.write_text("task: x\nkind: retrieval\ndataset: {loader: caption_json}\nmetrics: [a]\nprimary_metric: b\n")
    with pytest.raises(MmxError, match="primary_metric 'b'"):
        parse_task(p)


def test_unknown_names_suggest_the_nearest():
    with pytest.raises(MmxError, match="Did you mean probe_retrieval"):
        load_task("probe_retreival")
    with pytest.raises(MmxError, match="unknown suite"):
        load_suite("no-such-suite")
    with pytest.raises(MmxError, match="Did you mean hf-clip"):
        get_model_family("hf-clp")
    with pytest.raises(MmxError, match="unknown task kind"):
        get_task_kind("nope")


def test_env_vars_in_dataset_paths(tmp_path, monkeypatch):
    spec = tmp_path / "t.yaml"  # the built-in benchmarks read the Hub now: a task of its own with ${MMX_DATA}
    spec.write_text("task: t\nkind: retrieval\nmetrics: [t2i_r1]\n"
                    "dataset: {loader: caption_json, path: '${MMX_DATA}/babel-imagenet/xtd.json'}\n")
    t = parse_task(spec)
    monkeypatch.delenv("MMX_DATA", raising=False)
    with pytest.raises(MmxError, match="MMX_DATA"):
        t.resolve_path(t.dataset["path"])
    monkeypatch.setenv("MMX_DATA", str(tmp_path))
    assert t.resolve_path(t.dataset["path"]) == tmp_path / "babel-imagenet" / "xtd.json"


def test_extra_task_folder(tmp_path, monkeypatch):
    (tmp_path / "mine.yaml").write_text(
        "task: my_probe\nkind: retrieval\ndataset: {loader: caption_json, path: a.json, images: imgs}\n"
        "metrics: [t2i_r1]\n")
    monkeypatch.setenv("MMX_TASK_PATH", str(tmp_path))
    t = load_task("my_probe")
    assert t.resolve_path("a.json") == tmp_path / "a.json"


@pytest.mark.parametrize("kind,metric,suggestion", [
    ("asr", "wre", "wer"), ("tts", "duration_ration", "duration_ratio"), ("vqa", "vqa_accuracy", "vqa_acc"),
    ("zeroshot_classification", "top_1", "top1"), ("code_generation", "pass_at_1", "pass@1"),
    ("retrieval", "t2i_r3", None),
])
def test_a_metric_the_kind_cannot_produce_is_refused(tmp_path, kind, metric, suggestion):
    p = tmp_path / "t.yaml"
    p.write_text(f"task: x\nkind: {kind}\ndataset: {{loader: caption_json}}\nmetrics: [{metric}]\n")
    with pytest.raises(MmxError, match=f"unknown key '{metric}'") as e:
        get_task_kind(kind)(parse_task(p)).check_spec()
    if suggestion:
        assert f"Did you mean '{suggestion}'" in str(e.value)
