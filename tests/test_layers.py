"""Issue 11.2, the shape of the house (shared/design/house.md, "Layers"): each layer imports only the ones
below it. Every module under mmx/ is parsed (ast) and its imports checked, those inside functions too:
a lazy import is still a dependency.

- a data loader never imports mmx.models (the espeak-ng helpers live in mmx/audio/espeak.py);
- a task kind imports mmx.capabilities, never an adapter module;
- nothing in report/ knows how a number was produced (no task kind, no model);
- the registry imports nothing above it at import time, and mmx.capabilities imports no torch.
"""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "mmx"


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, top_level_only: bool = False, root: Path = PKG) -> list[tuple[int, str]]:
    """(line, module) for every import in a file; relative imports resolved against its package."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    nodes = tree.body if top_level_only else ast.walk(tree)
    name = _module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in nodes:
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            # `from mmx import models` imports mmx.models: count the names too
            found += [(node.lineno, base)] + [(node.lineno, f"{base}.{a.name}") for a in node.names]
    return found


def offences(folder_or_file: str, forbidden: tuple[str, ...], top_level_only: bool = False) -> list[str]:
    root = PKG / folder_or_file
    files = sorted(root.rglob("*.py")) if root.is_dir() else [root]
    assert files, root
    bad = []
    for f in files:
        for line, mod in imports(f, top_level_only):
            if any(mod == x or mod.startswith(x + ".") for x in forbidden):
                bad.append(f"{f.relative_to(PKG.parent)}:{line} imports {mod}")
    return sorted(set(bad))


def test_the_import_walker_sees_lazy_and_relative_imports(tmp_path):
    pkg = tmp_path / "mmx" / "data"
    pkg.mkdir(parents=True)
    f = pkg / "x.py"
    f.write_text("import os\nfrom ..models import speech\n\ndef g():\n    from mmx.models.base import A\n")
    root = tmp_path / "mmx"
    assert {"mmx.models", "mmx.models.speech", "mmx.models.base"} <= {m for _, m in imports(f, root=root)}
    top = {m for _, m in imports(f, top_level_only=True, root=root)}
    assert "mmx.models.speech" in top and "mmx.models.base" not in top


def test_data_loaders_import_no_model_code():
    assert offences("data", ("mmx.models",)) == []


def test_task_kinds_know_capabilities_not_adapters():
    assert offences("tasks", ("mmx.models", "mmx.runner", "mmx.cli")) == []
    for kind in ("asr", "st", "tts", "retrieval", "zeroshot", "vqa", "codegen"):
        mods = {m for _, m in imports(PKG / "tasks" / f"{kind}.py")}
        assert "mmx.capabilities" in mods, kind


def test_report_knows_no_task_kind_or_model():
    assert offences("report", ("mmx.tasks", "mmx.models", "mmx.runner", "mmx.data")) == []


def test_the_ground_floor_imports_nothing_above_it():
    above = ("mmx.cli", "mmx.runner", "mmx.tasks", "mmx.data", "mmx.models", "mmx.capabilities", "mmx.report")
    assert offences("registry.py", above, top_level_only=True) == []
    assert offences("audio", above) == []
    assert offences("capabilities.py", ("mmx.cli", "mmx.runner", "mmx.tasks", "mmx.data", "mmx.models",
                                        "mmx.report", "torch", "transformers"), top_level_only=True) == []


@pytest.mark.parametrize("module", ["mmx.capabilities", "mmx.registry", "mmx.audio.espeak"])
def test_importing_it_loads_no_torch(module):
    code = f"import {module}, sys; assert 'torch' not in sys.modules, 'torch'; print('ok')"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr[-1000:]


def test_old_import_paths_still_work():
    """Adapters and outside code (the example plugin) import capabilities from where they used to be."""
    from mmx import capabilities as caps
    from mmx.models import base, codegen, speech, vlm

    assert base.ImageTextEncoder is caps.ImageTextEncoder and base.Adapter is caps.Adapter
    assert speech.SpeechRecognizer is caps.SpeechRecognizer and speech.SpeechSynthesizer is caps.SpeechSynthesizer
    assert vlm.PromptTooLong is caps.PromptTooLong and codegen.CodeGenerator is caps.CodeGenerator
    assert issubclass(speech.HFWhisper, caps.SpeechTranslator)
    assert caps.capability_names(speech.HFWhisper) == ["speech-recognizer", "speech-translator"]
