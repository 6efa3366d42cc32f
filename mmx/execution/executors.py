"""One executor per programming language: how to write, compile and run a program with its tests.

A program is ``prompt + completion + tests`` (HumanEval-XL and MultiPL-E both build it that way; for
HumanEval-XL Python the test defines ``check(candidate)`` and the harness calls ``check(ENTRY_POINT)``).
``Executor.program`` returns a ``harness.Program``; ``execute`` runs it inside the pass-token harness
(mmx/execution/harness.py): it passes only with exit status 0 AND the per-run token line that the harness
prints after the last check. Anything else is a failure whose ``Result.extra["reason"]`` says why
(status ``no_pass_token``: it exited 0 without the token).
A language whose tools are not installed is reported ``skipped`` with an install hint, never pass/fail.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass, field, replace

from mmx.execution import harness
from mmx.execution.harness import PASS_PREFIX, TOKEN_FILE, HarnessError, Program
from mmx.execution.sandbox import BASE_ENV, Limits, Result, run_files

# Transpile-only TypeScript (like ts-node --transpile-only): type errors do not fail a program,
# syntax errors do. Uses the typescript package Debian's node-typescript installs.
TS_TRANSPILE = ("{reportDiagnostics: true, compilerOptions: {module: ts.ModuleKind.CommonJS, "
                "target: ts.ScriptTarget.ES2020}}")  # ts.transpileModule's options, here and in batch.py
TS_DRIVER = r"""
const ts = require("typescript"), fs = require("fs");
const src = fs.readFileSync(process.argv[2], "utf8");
const out = ts.transpileModule(src, """ + TS_TRANSPILE + r""");
const errs = (out.diagnostics || []).filter(d => d.category === ts.DiagnosticCategory.Error);
if (errs.length) { for (const d of errs) console.error(ts.flattenDiagnosticMessageText(d.messageText, "\n")); process.exit(3); }
fs.writeFileSync("prog.js", out.outputText);
"""
NODE_ENV = {"NODE_PATH": "/usr/share/nodejs:/usr/lib/nodejs:/usr/local/lib/node_modules"}


@dataclass
class Executor:
    name: str  # HumanEval-XL folder name
    filename: str
    command: list[str]  # run in the work dir; may be ["sh", "-c", "compile && run"]
    tools: list[str]  # executables that must be on PATH
    hint: str  # how to install the runtime
    aliases: tuple[str, ...] = ()
    env: dict = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    extra_files: dict = field(default_factory=dict)
    check_modules: list[list[str]] = field(default_factory=list)  # commands that must succeed (libraries)
    stop: list[str] = field(default_factory=list)  # where a completion ends (HumanEval / MultiPL-E style)
    harness_command: list[str] | None = None  # the command for a harnessed Program (default: command)
    python_script: bool = False  # commands are `python3 SCRIPT`: a warm sandbox runs them in its zygote

    def missing(self) -> str | None:
        """None when this machine can run the language, else what is missing and how to install it."""
        absent = [t for t in self.tools if shutil.which(t, path=BASE_ENV["PATH"]) is None]
        if absent:
            return f"{', '.join(absent)} not installed; {self.hint}"
        import subprocess

        for cmd in self.check_modules:
            r = subprocess.run(cmd, capture_output=True, env={**BASE_ENV, **self.env}, timeout=60)
            if r.returncode != 0:
                return f"`{' '.join(cmd)}` failed; {self.hint}"
        return None

    def program(self, prompt: str, completion: str, test: str, entry_point: str = "",
                style: str = "humaneval-xl") -> Program:
        """The program to score: prompt + completion, then the tests (the harness is added per run)."""
        return Program(prompt + completion + "\n", test, entry_point, style)

    def execute(self, source: str, slot: int = 0, limits: Limits | None = None, binds: dict | None = None) -> Result:
        """Run ``source``. A ``Program`` runs under the pass-token harness and passes only with the token;
        a plain string runs as it is (status by exit code: for sandbox self-tests, never for scores)."""
        if not isinstance(source, Program):
            return self._run({self.filename: source}, self.command, slot, limits, binds)
        token = harness.new_token()
        try:
            files = harness.build(self.name, source, harness.tag())
        except HarnessError as e:
            return Result("error", None, "", f"mmx harness: {e}", 0.0, {"reason": f"harness: {e}"})
        files[TOKEN_FILE] = token
        return judge(self._run(files, self.harness_command or self.command, slot, limits, binds), token)

    def _run(self, files: dict[str, str], command: list[str], slot: int, limits: Limits | None,
             binds: dict | None) -> Result:
        return run_files(command, {**self.extra_files, **files}, limits or self.limits, env=self.env, slot=slot,
                         binds=binds, python_script=self.python_script)


def judge(r: Result, token: str) -> Result:
    """``ok`` only for exit status 0 with the exact token line on stdout; otherwise say why in extra."""
    line = PASS_PREFIX + token
    passed = harness.verdict(r.stdout, token)
    extra = {**r.extra, "harness": "pass-token"}
    status = r.status
    if status == "ok" and not passed:
        status = "no_pass_token"
        extra["reason"] = ("exit status 0 without the pass token: the program ended before its tests finished "
                           "(an exit call, a hook, a top-level return) or changed the checks")
    elif status == "ok":
        extra["reason"] = None
    elif passed:
        extra["reason"] = f"the tests passed but the program then exited with status {r.returncode}"
    else:
        extra["reason"] = {"error": f"the tests failed (exit status {r.returncode})", "timeout": "timed out",
                           "output_limit": "printed more than the output cap"}.get(status, status)
    # the token is spent; keep it out of samples files
    return replace(r, status=status, stdout=r.stdout.replace(line, PASS_PREFIX + "<verified>"), extra=extra)


# Stop sequences: the completion ends where a new top-level item (or the test code) would start.
STOPS = {
    "python": ["\nclass", "\ndef", "\n#", "\nif", "\nprint"],  # the HumanEval paper's
    "javascript": ["\nfunction ", "\n/*", "\n//", "\nconsole.log", "\nmodule.exports"],
    "typescript": ["\nfunction ", "\n/*", "\n//", "\nconsole.log", "\nconst ", "\nlet ", "\nimport "],
    "java": ["\nclass ", "\npublic class ", "\n/**", "\n// "],  # the completion closes method and class
    "go": ["\nfunc ", "\n// ", "\ntype ", "\nvar "],
    "perl": ["\nsub ", "\n# ", "\nuse ", "\n1;"],
    "php": ["\nfunction ", "\n?>", "\n// ", "\n/**", "\n$"],
    "ruby": ["\ndef ", "\n# ", "\nclass ", "\nputs", "\n##"],
    "csharp": ["\n        public static", "\n        static ", "\n        ///"],
    "kotlin": ["\nfun ", "\n/**", "\n// "],
    "scala": ["\n    def ", "\n    /**", "\n    // ", "\n    var "],
    "swift": ["\nfunc ", "\n/**", "\n// ", "\nvar "],
}

# JVM / V8 / Go / .NET reserve large address ranges: limit the data they write, not their address space
_VM_LIMITS = Limits(timeout=30, cpu=60, memory=2 << 30, data_only=True)
JVM_FLAGS = "-Xshare:auto -XX:+UseSerialGC -XX:TieredStopAtLevel=1"  # fast start-up
JAVAC = "javac " + " ".join("-J" + f for f in JVM_FLAGS.split())  # javac's JVM too (here and in batch.py)
# -ea: MultiPL-E's Java tests are `assert` statements, which the JVM skips without it
JAVA = f"java -ea {JVM_FLAGS} -Xss16m -cp ."  # + the main class (here and in batch.py)


def _java(main_class: str) -> list[str]:
    return ["sh", "-c", f"{JAVAC} -encoding UTF-8 -nowarn Main.java 2>&1 >/dev/null | grep -v '^Note:' >&2; "
            f"test -f {main_class}.class && exec {JAVA} {main_class}"]

EXECUTORS: dict[str, Executor] = {e.name: replace(e, stop=STOPS[e.name]) for e in [
    Executor("python", "prog.py", ["python3", "prog.py"], ["python3"], "apt-get install python3", ("py",),
             harness_command=["python3", "mmx_harness.py"], python_script=True),
    Executor("javascript", "prog.js", ["node", "prog.js"], ["node"],
             "apt-get install nodejs node-lodash (the tests require lodash)", ("js",), NODE_ENV, _VM_LIMITS,
             check_modules=[["node", "-e", "require('lodash')"]]),
    Executor("typescript", "prog.ts", ["sh", "-c", "node ts2js.js prog.ts && node prog.js"], ["node", "sh"],
             "apt-get install nodejs node-typescript", ("ts",), NODE_ENV, _VM_LIMITS, {"ts2js.js": TS_DRIVER},
             check_modules=[["node", "-e", "require('typescript')"]]),
    Executor("java", "Main.java", _java("Main"), ["javac", "java", "sh"], "apt-get install default-jdk-headless",
             (), {}, _VM_LIMITS, harness_command=_java("MmxHarness")),
    Executor("go", "main.go", ["go", "run", "main.go"], ["go"], "apt-get install golang-go", ("golang",),
             {"GOCACHE": "/tmp/gocache", "GOPATH": "/tmp/gopath", "GO111MODULE": "off", "CGO_ENABLED": "0",
              "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local"}, _VM_LIMITS,
             harness_command=["go", "run", "a_mmx.go", "main.go"]),
    Executor("perl", "prog.pl", ["perl", "prog.pl"], ["perl"],
             "apt-get install perl libdata-compare-perl (the tests use Data::Compare)", ("pl",),
             check_modules=[["perl", "-MData::Compare", "-e", "1"]]),
    Executor("php", "prog.php", ["php", "prog.php"], ["php"], "apt-get install php-cli",
             harness_command=["php", "-d", "auto_prepend_file=./mmx_prefix.php", "prog.php"]),
    Executor("ruby", "prog.rb", ["ruby", "prog.rb"], ["ruby"], "apt-get install ruby", ("rb",),
             harness_command=["ruby", "-r", "./mmx_prefix.rb", "prog.rb"]),
    Executor("csharp", "Program.cs", ["sh", "-c", "mcs -r:KellermanSoftware.Compare-NET-Objects.dll -out:prog.exe "
                                      "Program.cs && mono prog.exe"], ["mcs", "mono"],
             "apt-get install mono-mcs, plus the NuGet package CompareNETObjects the tests use", ("cs",), {}, _VM_LIMITS),
    Executor("kotlin", "main.kt", ["sh", "-c", "kotlinc main.kt -include-runtime -d main.jar 2>/dev/null && "
                                   "java -ea -jar main.jar"], ["kotlinc", "java"],
             "install kotlinc (not packaged by Debian 12; e.g. sdk install kotlin)", ("kt",), {}, _VM_LIMITS),
    Executor("scala", "Main.scala", ["sh", "-c", "scalac Main.scala && scala Main"], ["scalac", "scala"],
             "apt-get install scala", (), {}, _VM_LIMITS,
             harness_command=["sh", "-c", "scalac Main.scala && scala MmxHarness"]),
    Executor("swift", "main.swift", ["sh", "-c", "swiftc main.swift -o main && ./main"], ["swiftc"],
             "install the Swift toolchain from swift.org (not packaged by Debian 12)", (), {}, _VM_LIMITS),
]}


def get_executor(language: str) -> Executor:
    from mmx.errors import MmxError

    key = language.lower()
    for e in EXECUTORS.values():
        if key == e.name or key in e.aliases:
            return e
    raise MmxError(f"no executor for programming language {language!r}; known: {', '.join(EXECUTORS)}")


def with_limits(ex: Executor, **kw) -> Executor:
    return replace(ex, limits=replace(ex.limits, **kw))
