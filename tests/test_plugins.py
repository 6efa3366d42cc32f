"""Issue 11.4: installed packages extend mmx through the "mmx.plugins" entry point group; the example
plugin (examples/mmx-plugin-example, installed by `make setup`) is exercised end to end."""
import json
from importlib.metadata import EntryPoint

import pytest

from cli_runner import cli
from mmx import registry
from mmx.errors import MmxError


def test_example_plugin_is_installed_and_listed(capsys):
    code, out, _ = cli(capsys, "models")
    assert code == 0
    line = next(ln for ln in out.splitlines() if " bag-of-chars " in ln)
    assert "image-text-encoder" in line and "example" in line
    code, out, _ = cli(capsys, "tasks")
    assert "example_probe_retrieval" in out  # the plugin's task folder is searched


def test_plugin_model_and_loader_run_end_to_end(capsys, tmp_path):
    out_dir = tmp_path / "run"
    code, out, err = cli(capsys, "evaluate", "--model", "bag-of-chars:default",
                         "--tasks", "probe_retrieval,example_probe_retrieval", "--limit", "4",
                         "--languages", "en,de", "--output", out_dir, "--no-progress")
    assert code == 0, err
    res = json.loads((out_dir / "results.json").read_text())
    assert res["model"]["family"] == "bag-of-chars"
    for task in ("probe_retrieval", "example_probe_retrieval"):
        langs = res["tasks"][task]["languages"]
        assert sorted(langs) == ["de", "en"], (task, list(langs))
    # the plugin's loader (every: 2) took images 0, 2, 4, 6 of the probe set
    lines = (out_dir / "samples" / "example_probe_retrieval.jsonl").read_text().splitlines()
    images = {i.rsplit("/", 1)[-1] for i in (json.loads(ln)["id"] for ln in lines) if i.endswith(".png")}
    assert images == {"probe_000.png", "probe_002.png", "probe_004.png", "probe_006.png"}


@pytest.fixture
def fake_plugins(monkeypatch):
    """Replace the installed entry points with the given ones; plugins are loaded afresh."""
    import importlib.metadata

    def install(*eps):
        monkeypatch.setattr(importlib.metadata, "entry_points", lambda group=None: list(eps))
        monkeypatch.setattr(registry, "_plugins_loaded", False)
        monkeypatch.setattr(registry, "_plugins", {})

    return install


def test_a_broken_plugin_is_a_clear_error_naming_it(fake_plugins, capsys):
    fake_plugins(EntryPoint("broken", "mmx_no_such_plugin_xyz:register", "mmx.plugins"))
    with pytest.raises(MmxError, match=r"mmx plugin 'broken' \(entry point mmx_no_such_plugin_xyz:register.*"
                                       r"failed to load: ModuleNotFoundError"):
        registry.load_plugins()
    code, out, err = cli(capsys, "models")
    assert code == 2 and "mmx plugin 'broken'" in err and "Traceback" not in err + out
    # built-in names do not need plugins: a broken one does not block them
    assert registry.get_model_family("hf-clip").registry_name == "hf-clip"


def test_plugins_load_only_when_a_name_is_not_builtin(fake_plugins):
    fake_plugins(EntryPoint("example", "mmx_plugin_example:register", "mmx.plugins"))
    registry.get_task_kind("retrieval")
    assert registry._plugins_loaded is False
    with pytest.raises(MmxError, match="unknown model family 'bag-of-charz'. Did you mean bag-of-chars"):
        registry.get_model_family("bag-of-charz")
    assert "example" in registry._plugins
