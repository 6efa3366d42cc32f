"""CI's skip policy, a pytest plugin (tests/conftest.py loads it).

A test may skip for what CI cannot have: a runtime Debian 12 does not package (Kotlin, Swift, C#, Scala),
a GPU, an opt-in slow test. It must not skip in CI for what CI's own set-up provides: a Debian package
that `make sysdeps` installs, the ../shared benchmark files beside the clone, a tool the pip install
brings, root. With the environment variable CI set (`.ci/run` runs with CI=true, as CI services do),
such a skip fails the session, and the summary lists it; anywhere else it stays a plain skip.

Write skip reasons so that they say which kind they are, with the helpers below (missing_debian,
shared_absent, not_packaged, needs_gpu, opt_in). Reasons written before this policy are recognised
by the patterns in CI_PROVIDES and ALLOWED.
"""
from __future__ import annotations

import os
import re

import pytest

MISSING_DEBIAN = "missing Debian package"
SHARED_ABSENT = "../shared absent"


def missing_debian(package: str, detail: str = "") -> str:
    return f"{MISSING_DEBIAN} {package}" + (f" ({detail})" if detail else "") + " (`make sysdeps` installs it)"


def shared_absent(path: object) -> str:
    return f"{SHARED_ABSENT}: {path} (the real benchmark files live beside the clone)"


def not_packaged(what: str) -> str:
    return f"runtime not packaged by Debian 12: {what}"


def needs_gpu(what: str = "") -> str:
    return "needs a GPU" + (f": {what}" if what else "")


def opt_in(what: str) -> str:
    return f"opt-in slow test: {what}"


# Allowed in CI; checked first, so "kotlin: ... (not packaged by Debian 12 ...)" is allowed even though the
# executor's hint for it names an install command.
ALLOWED = [
    r"not packaged by Debian 12",
    r"^(kotlin|swift|csharp|scala): ",  # tests/test_code_executors.py: "<language>: <runtime> not installed; ..."
    r"^needs a GPU",
    r"^opt-in slow test",
    r"fetch_qwen_gguf\.py",  # the Qwen2.5-Coder model wheels, fetched on purpose for the slow test
]
# What CI's set-up provides: a skip for one of these in CI is a broken set-up, not a pass.
CI_PROVIDES = [
    "^" + re.escape(MISSING_DEBIAN),
    "^" + re.escape(SHARED_ABSENT),
    r"is absent: the real benchmark files",  # the shared_data fixture, tests/test_languages.py
    r"apt-get install",  # espeak-ng, the code executors' runtimes (Makefile APT_PACKAGES)
    r"make sysdeps",  # chromium, espeak-ng
    r"\(CI runs as root\)",  # the sandbox tests
    r"bubblewrap|\bbwrap\b",
    r"torchrun is not installed",  # torch's own launcher, pip-installed with torch
]


def ci_should_provide(reason: str) -> bool:
    """True when a skip for this reason means CI's set-up is broken."""
    reason = reason.removeprefix("Skipped: ")
    if any(re.search(p, reason) for p in ALLOWED):
        return False
    return any(re.search(p, reason) for p in CI_PROVIDES)


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


class SkipPolicy:
    def __init__(self) -> None:
        self.bad: list[tuple[str, str]] = []

    def _note(self, report) -> None:
        if report.skipped and not hasattr(report, "wasxfail") and isinstance(report.longrepr, tuple):
            reason = str(report.longrepr[2]).removeprefix("Skipped: ")
            if ci_should_provide(reason):
                self.bad.append((report.nodeid, reason))

    def pytest_runtest_logreport(self, report) -> None:
        self._note(report)

    def pytest_collectreport(self, report) -> None:  # pytest.skip(..., allow_module_level=True)
        self._note(report)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session) -> None:
        if self.bad and in_ci() and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED  # pytest exits with session.exitstatus

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if not (self.bad and in_ci()):
            return
        tr = terminalreporter
        tr.section("skips that CI's set-up should have prevented (CI is set: the session fails)", sep="=", red=True)
        for nodeid, reason in self.bad:
            tr.line(f"{nodeid}: {reason}")
        tr.line("CI provides these (`make sysdeps`, ../shared beside the clone, root): fix the set-up, or, when CI "
                "cannot have it, say so in the reason (tests/skip_policy.py: not_packaged, needs_gpu, opt_in)")


def pytest_configure(config) -> None:
    config.pluginmanager.register(SkipPolicy(), "mmx-skip-policy")
