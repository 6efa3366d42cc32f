"""Issue 11.4: the registry holds lazy "module:object" entries, so listing commands never import torch,
and every entry resolves to the class registered under its name."""
import subprocess
import sys

import pytest

from mmx import registry
from mmx.errors import MmxError

# Runs `mmx ARGS` in-process in a fresh interpreter, then reports whether torch was imported.
WRAPPER = """
import sys
sys.argv = ["mmx", *sys.argv[1:]]
from mmx.cli import main
try:
    main()
except SystemExit as e:
    assert e.code in (0, None), e.code
print("TORCH_LOADED=" + str("torch" in sys.modules))
"""


@pytest.mark.parametrize("args", [["tasks"], ["models"], ["--help"]])
def test_listing_commands_do_not_import_torch(args):
    p = subprocess.run([sys.executable, "-c", WRAPPER, *args], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "TORCH_LOADED=False" in p.stdout, p.stdout[-500:]


def test_models_lists_every_builtin_family_and_kind(capsys):
    from cli_runner import cli

    code, out, _ = cli(capsys, "models")
    assert code == 0
    for name in ["hf-clip", "open_clip", "mclip", "hf-causal", "openai", "hf-whisper", "hf-ctc", "faster-whisper",
                 "openai-asr", "hf-vits", "espeak-ng", "hf-vlm", "openai-vlm",
                 "retrieval", "zeroshot_classification", "code_generation", "asr", "tts", "vqa"]:
        assert f" {name} " in out, name


def test_every_builtin_entry_resolves_to_its_registered_class():
    for table in (registry.MODELS, registry.TASKS):
        for e in [e for e in table.listing() if e.source == "mmx"]:
            cls = table.get(e.name)
            assert cls.registry_name == e.name, e  # the decorator's name and the entry's agree
            cap = getattr(cls, "capability", cls).capability_name  # a task kind's capability is a class
            assert cap == e.capability_name, (e.name, cap, e.capability_name)  # `mmx models` prints the truth
    for e in [e for e in registry.LOADERS.listing() if e.source == "mmx"]:
        assert callable(registry.get_loader(e.name))


def test_unknown_names_list_what_exists_with_a_suggestion():
    with pytest.raises(MmxError, match=r"unknown model family 'hf-clp'\. Did you mean hf-clip.*Known: .*mclip"):
        registry.get_model_family("hf-clp")
    with pytest.raises(MmxError, match=r"unknown task kind 'retreival'\. Did you mean retrieval"):
        registry.get_task_kind("retreival")
    with pytest.raises(MmxError, match=r"unknown dataset loader 'xm360'\. Did you mean xm3600"):
        registry.get_loader("xm360")


def test_a_broken_lazy_entry_names_itself():
    t = registry.Table("model family")
    t.add("ghost", "mmx_no_such_module_xyz:Model", source="someplugin")
    with pytest.raises(MmxError, match=r"model family 'ghost' \(plugin 'someplugin'\) could not be loaded "
                                       r"from mmx_no_such_module_xyz:Model: ModuleNotFoundError"):
        t.get("ghost")
