"""Issue 11.2: each task kind's YAML options are a typed class (mmx/tasks/config.py), and every kind reads
its data through one path (TaskKind.call_loader)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mmx.errors import MmxError
from mmx.registry import task_kinds
from mmx.tasks import config
from mmx.tasks.base import TASK_KEYS, load_task, parse_task

ROOT = Path(__file__).resolve().parents[1]


def _task(tmp_path, text: str, name="t.yaml"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return parse_task(p)


VQA = """task: my_vqa
kind: vqa
dataset: {loader: probe_vqa, path: x.json, images: imgs}
metrics: [vqa_acc]
"""
CODE = """task: my_code
kind: code_generation
dataset: {loader: humaneval_xl, root: hexl, programming_language: python}
metrics: [pass@1]
"""
TTS = """task: my_tts
kind: tts
dataset: {loader: speech_probe, path: caps.json}
metrics: [wer]
asr_model: espeak-ng:default
"""


def test_every_kind_declares_typed_options_and_reads_no_raw_yaml():
    for name, kind in task_kinds().items():
        assert issubclass(kind.Options, config.Options), name
        assert not set(kind.Options.model_fields) & TASK_KEYS, name  # options never shadow the common keys
        assert not hasattr(kind, "yaml_keys"), name  # the old untyped list is gone
        src = Path(sys.modules[kind.__module__].__file__).read_text()
        assert "spec.raw" not in src, f"{name} reads the raw YAML instead of self.options"


def test_defaults_and_types_come_from_the_options_class(tmp_path):
    vqa = task_kinds()["vqa"](_task(tmp_path, VQA))
    assert (vqa.options.max_new_tokens, vqa.options.mc_mode, vqa.options.answer_language) == (16, "loglik", "question")
    assert task_kinds()["vqa"](load_task("probe_vqa")).options.max_new_tokens == 10  # the YAML's value
    code = task_kinds()["code_generation"](load_task("humaneval_xl_python"))
    g = code.options.generation
    assert (g.n, g.temperature, g.max_new_tokens) == (1, 0.0, 512) and g.workers >= 1
    assert isinstance(g.temperature, float)


@pytest.mark.parametrize("text, pattern", [
    (VQA + "mc_mod: generate\n", r"unknown key 'mc_mod'. Did you mean 'mc_mode'"),
    (VQA + "mc_mode: logit\n", r"mc_mode should be one of 'loglik' or 'generate', got 'logit'"),
    (VQA + "max_new_tokens: 0\n", r"max_new_tokens should be >= 1, got 0"),
    (VQA + "max_new_tokens: 2.5\n", r"max_new_tokens should be a whole number, got 2.5"),
    (CODE + "generation: {n: 1, max_tokens: 64}\n", r"generation: unknown key 'max_tokens'. Did you mean 'max_new_tokens'"),
    (CODE + "generation: {n: true}\n", r"generation.n should be a whole number"),
    (CODE + "generation: {temperature: .nan}\n", r"generation.temperature should be a finite number"),
    (CODE + "generation: 3\n", r"generation should be a valid dictionary"),
    (TTS + "asr_model_args: [a, b]\n", r"asr_model_args should be a valid dictionary"),
    (TTS + "asr_model_args: device\n", r"bad argument 'device'"),
])
def test_bad_options_are_refused_naming_the_file_key_and_value(tmp_path, text, pattern):
    spec = _task(tmp_path, text)
    kind = task_kinds()[spec.kind](spec)
    with pytest.raises(MmxError, match=pattern) as e:
        kind.check_spec()
    assert str(tmp_path / "t.yaml") in str(e.value)


def test_data_args_set_options_by_name_and_the_rest_goes_to_the_loader():
    opts, rest = config.split_overrides(task_kinds()["code_generation"].Options,
                                        {"n": "200", "temperature": "0.8", "root": "/d", "split": "x"})
    assert opts == {"generation": {"n": "200", "temperature": "0.8"}} and rest == {"root": "/d", "split": "x"}
    parsed = config.parse_options(task_kinds()["code_generation"].Options, {"generation": {"n": 5, "max_new_tokens": 64}},
                                  "here", opts)
    assert (parsed.generation.n, parsed.generation.temperature, parsed.generation.max_new_tokens) == (200, 0.8, 64)
    opts, rest = config.split_overrides(task_kinds()["tts"].Options, {"asr_model": "hf-whisper:x", "path": "p"})
    assert opts == {"asr_model": "hf-whisper:x"} and rest == {"path": "p"}


def test_tts_judge_args_accept_the_command_line_form(tmp_path):
    spec = _task(tmp_path, TTS + "asr_model_args: {beam_size: 1}\n")
    kind = task_kinds()["tts"](spec)
    assert kind.options.asr_model_args == {"beam_size": "1"}
    assert kind.parse_options({"asr_model_args": "compute_type=int8,beam_size=2"}).asr_model_args == \
        {"compute_type": "int8", "beam_size": "2"}


def test_one_loader_path_names_a_missing_key_and_resolves_paths_against_the_yaml(tmp_path):
    spec = _task(tmp_path, VQA.replace(", images: imgs", ""))
    kind = task_kinds()["vqa"](spec)
    with pytest.raises(MmxError, match=r"dataset needs 'images' \(loader probe_vqa\)"):
        kind.load(None, None, {})
    seen = {}

    def fake_loader(path: Path, images: Path, name: str = "x", languages=None, limit=None, every: int = 1):
        seen.update(path=path, images=images, name=name, languages=languages, limit=limit, every=every)
        return "data"

    from mmx import registry

    registry.LOADERS.bind("fake_for_options_test", fake_loader)
    try:
        spec = _task(tmp_path, VQA.replace("probe_vqa", "fake_for_options_test"), "sub.yaml")
        assert task_kinds()["vqa"](spec).call_loader({"every": 3}, ["de"], 7) == "data"
        assert seen == {"path": tmp_path / "x.json", "images": tmp_path / "imgs", "name": "my_vqa",
                        "languages": ["de"], "limit": 7, "every": 3}  # a non-Path key is passed as given
        with pytest.raises(MmxError, match=r"unknown key 'evry'. Did you mean 'every'"):
            task_kinds()["vqa"](spec).call_loader({"evry": 3}, None, None)
    finally:
        registry.LOADERS.objects.pop("fake_for_options_test", None)


def test_schema_and_validate_speak_of_the_options(tmp_path):
    p = subprocess.run([sys.executable, "-m", "mmx", "schema", "task:code_generation"], capture_output=True,
                       text=True, timeout=120, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    schema = json.loads(p.stdout)
    gen = schema["$defs"]["Generation"]
    assert gen["additionalProperties"] is False and gen["properties"]["n"]["minimum"] == 1
    bad = tmp_path / "bad.yaml"
    bad.write_text(VQA + "mc_mode: logit\n")
    p = subprocess.run([sys.executable, "-m", "mmx", "validate", str(bad)], capture_output=True, text=True,
                       timeout=120, cwd=ROOT)
    assert p.returncode != 0 and "mc_mode should be one of" in p.stdout + p.stderr
