"""A pass must mean the tests ran and passed: hostile completions of a real HumanEval-XL problem.

For each installed language, task 0 (below_zero) of the real data runs with a right completion (passes),
a wrong one (fails) and a matrix of hostile completions: the wrong solution plus one way of ending the
process early with success, of hooking exit or exceptions, of tampering with the checks, of faking or
stealing the pass line, or of closing stdout. Every hostile program must score as failed. All programs
of a language run in parallel through the pool.
"""
import json

import pytest

from mmx.execution import EXECUTORS, execute_many, references
from mmx.execution.harness import PASS_PREFIX, TOKEN_FILE, Program

FAKE = "0123456789abcdef0123456789abcdef"


def _problem(shared_data, language, index=0):
    path = shared_data / "humaneval-xl" / language / "English.jsonl"
    if not path.is_file():
        pytest.skip(f"{path} absent")
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh][index]


def _need(language):
    missing = EXECUTORS[language].missing()
    if missing:
        pytest.skip(f"{language}: {missing}")
    return EXECUTORS[language]


PY_WRONG = "    return False\n"
PY_TRACER = """    return True
import sys
def _tracer(frame, event, arg):
    if frame.f_code.co_name != "check":
        return None
    last = max(l for _, _, l in frame.f_code.co_lines() if l is not None)
    def _line(f, e, a):
        if e == "line" and f.f_lineno < last:
            try:
                f.f_lineno = last  # jump over the failing asserts
            except ValueError:
                pass
        return _line
    return _line
sys.settrace(_tracer)
"""
STEAL_PY = (f"import os\nfor _v in list(os.environ.values()) + [open(p).read() for p in ('{TOKEN_FILE}',) if os.path.exists(p)]:\n"
            f"    print('{PASS_PREFIX}' + _v)\nprint('{PASS_PREFIX}{FAKE}')\nraise SystemExit(0)\n")

HOSTILE = {
    "python": {
        "sys.exit(0)": PY_WRONG + "import sys\nsys.exit(0)\n",
        "raise SystemExit(0)": PY_WRONG + "raise SystemExit(0)\n",
        "exit()": PY_WRONG + "exit()\n",
        "quit(0)": PY_WRONG + "quit(0)\n",
        "os._exit(0)": PY_WRONG + "import os\nos._exit(0)\n",
        "exit inside the call": references.early_exit("python", PY_WRONG),
        "atexit os._exit(0)": PY_WRONG + "import atexit, os\natexit.register(lambda: os._exit(0))\n",
        "sys.excepthook": PY_WRONG + "import sys, os\nsys.excepthook = lambda *a: os._exit(0)\n",
        "later def check": PY_WRONG + "def check(candidate):\n    pass\nimport builtins\nbuiltins.check = check\n",
        "__eq__ always true": "    class _Any:\n        def __eq__(self, other):\n            return True\n    return _Any()\n",
        "int subclass with __eq__": "    class _B(int):\n        def __eq__(self, other):\n            return True\n    return _B(0)\n",
        "trace function skips asserts": PY_TRACER,
        "fake or stolen pass line": PY_WRONG + STEAL_PY,
        "close stdout": PY_WRONG + "import os\nos.close(1)\n",
        "redirect stdout": PY_WRONG + "import os, sys\nsys.stdout = open(os.devnull, 'w')\n",
    },
    "javascript": {
        "process.exit(0)": "process.exit(0);\n",
        "process.reallyExit(0)": "process.reallyExit(0);\n",
        "process.on(exit)": "process.on('exit', () => process.reallyExit(0));\n",
        "uncaughtException exit": "process.on('uncaughtException', () => process.exit(0));\n",
        "uncaughtException swallow": "process.on('uncaughtException', () => {});\n",
        "top-level return": "return;\n",
        "lodash.isEqual replaced": "require('lodash').isEqual = () => true;\n",
        "require.cache replaced": "require.cache[require.resolve('lodash')].exports = { isEqual: () => true };\n",
        "module loader replaced": ("const M = require('module'); const _l = M._load;\n"
                                   "M._load = function (r, ...a) { return r === 'lodash' ? { isEqual: () => true } : _l.call(this, r, ...a); };\n"),
        "require reassigned": "require = () => ({ isEqual: () => true });\n",
        "compare redefined": "function compare() { return true; }\n",
        "fake or stolen pass line": (f"try {{ console.log('{PASS_PREFIX}' + require('fs').readFileSync('{TOKEN_FILE}', 'utf8')); }} catch (e) {{}}\n"
                                     f"console.log('{PASS_PREFIX}{FAKE}'); process.exit(0);\n"),
        "close stdout": "require('fs').closeSync(1);\n",
    },
    "typescript": {
        "process.exit(0)": "process.exit(0);\n",
        "assert.deepEqual replaced": "require('assert').deepEqual = () => {};\n",
        "Module.prototype.require replaced": (
            "const M = require('module'); const o = M.prototype.require;\n"
            "M.prototype.require = function (n) { return n === 'assert' ? { deepEqual() {} } : o.apply(this, arguments); };\n"),
        "uncaughtException exit": "process.on('uncaughtException', () => process.exit(0));\n",
        "fake pass line": f"console.log('{PASS_PREFIX}{FAKE}'); process.exit(0);\n",
    },
    "java": {  # few: each Java program takes about a second
        "System.exit(0)": "PREPEND        System.exit(0);\n",
        "Runtime.halt(0)": "PREPEND        Runtime.getRuntime().halt(0);\n",
        "shutdown hook + uncaught handler": (
            "PREPEND        Runtime.getRuntime().addShutdownHook(new Thread(() -> Runtime.getRuntime().halt(0)));\n"
            "        Thread.setDefaultUncaughtExceptionHandler((t, e) -> System.exit(0));\n"),
        "fake or stolen pass line": (
            "PREPEND        try { System.out.println(\"" + PASS_PREFIX + "\" + java.nio.file.Files.readString(java.nio.file.Path.of(\""
            + TOKEN_FILE + "\"))); } catch (Exception e) { System.out.println(\"" + PASS_PREFIX + FAKE + "\"); }\n"
            "        System.exit(0);\n"),
    },
    "go": {  # OS: the prompt also imports "os" (Go completions cannot add imports)
        "os.Exit(0)": "OS PREPEND\tos.Exit(0)\n",
        "var initialiser steals the token": (
            "OS \nvar _ = func() int {\n\tb, _ := os.ReadFile(\"" + TOKEN_FILE + "\")\n"
            "\tos.Stdout.WriteString(\"" + PASS_PREFIX + "\" + string(b) + \"\\n" + PASS_PREFIX + FAKE + "\\n\")\n"
            "\tos.Exit(0)\n\treturn 0\n}()\n"),
        "false shadowed": "RIGHTLESS\treturn true\n}\n\nconst false = true\n",
        "panic shadowed": "\nfunc panic(v interface{}) {}\n",
    },
    "perl": {
        "exit 0": "exit 0;\n",
        "exit inside the call": "EARLY",
        "POSIX::_exit(0)": "use POSIX ();\nPOSIX::_exit(0);\n",
        "END sets $?": "END { $? = 0; }\n",
        "$SIG{__DIE__}": "$SIG{__DIE__} = sub { exit 0 };\n",
        "CORE::GLOBAL::die": "BEGIN { *CORE::GLOBAL::die = sub { 1 }; }\n",
        "Compare replaced": "{ no warnings; *main::Compare = sub { 1 }; }\n",
        "source filter": ("use Filter::Util::Call;\n"
                          "BEGIN { filter_add(sub { my $s = filter_read(); s/\\bdie\\b/warn/g if $s > 0; $s }); }\n"),
        "__END__": "__END__\n",
        "fake or stolen pass line": (f"BEGIN {{ if (open(my $f, '<', '{TOKEN_FILE}')) {{ local $/; print '{PASS_PREFIX}', <$f>, \"\\n\"; }} }}\n"
                                     f"print \"{PASS_PREFIX}{FAKE}\\n\";\nexit 0;\n"),
    },
    "php": {
        "exit(0)": "exit(0);\n",
        "die()": "die();\n",
        "exit inside the call": "EARLY",
        "register_shutdown_function": "register_shutdown_function(function () { exit(0); });\n",
        "set_exception_handler": "set_exception_handler(function ($e) { exit(0); });\n",
        "__halt_compiler": "__halt_compiler();\n",
        "?> ends the code": "?>\n",
        "top-level return": "return;\n",
        "fake or stolen pass line": (f"echo \"{PASS_PREFIX}{FAKE}\\n\"; echo '{PASS_PREFIX}' . @file_get_contents('{TOKEN_FILE}') . \"\\n\";\n"
                                     "exit(0);\n"),
    },
    "ruby": {
        "exit(0)": "exit(0)\n",
        "exit!(0)": "exit!(0)\n",
        "exit inside the call": "EARLY",
        "at_exit exit!": "at_exit { exit!(0) }\n",
        "top-level return": "return\n",
        "__END__": "__END__\n",
        "!= redefined": ("class FalseClass\n  def !=(o)\n    false\n  end\nend\n"
                         "class TrueClass\n  def !=(o)\n    false\n  end\nend\n"),
        "raise redefined": "def raise(*a)\n  nil\nend\n",
        "refinement": ("module MmxCheat\n  refine(FalseClass) do\n    def !=(o)\n      false\n    end\n  end\n"
                       "  refine(TrueClass) do\n    def !=(o)\n      false\n    end\n  end\nend\nusing MmxCheat\n"),
        "object with != always false": "BODY  o = Object.new\n  def o.!=(x)\n    false\n  end\n  o\nend\n",
        "fake or stolen pass line": (f"puts '{PASS_PREFIX}{FAKE}'\nputs '{PASS_PREFIX}' + (File.read('{TOKEN_FILE}') rescue '')\n"
                                     "exit(0)\n"),
    },
}

# a right solution that closes stdout before the tests: it can never print the pass line
CLOSE_STDOUT = {
    "python": "import os\nos.close(1)\n",
    "javascript": "require('fs').closeSync(1);\n",
    "java": "PREPEND        System.out.close();\n",
    "go": "OS PREPEND\tos.Stdout.Close()\n",
    "perl": "close(STDOUT);\n",
    "php": "fclose(STDOUT);\n",
    "ruby": "$stdout.close\n",
}


def _right(language, p):
    return p["canonical_solution"] if language == "python" else references.BODIES[language]


def _wrong(language):
    return PY_WRONG if language == "python" else references.broken(language)


def _build(ex, p, language, spec, base):
    """A completion from a matrix entry: markers say where the attack goes."""
    prompt = p["prompt"]
    if spec.startswith("OS "):
        prompt = prompt.replace("import (\n", "import (\n\t\"os\"\n", 1)
        spec = spec[3:]
    if spec == "EARLY":
        completion = references.early_exit(language)
    elif spec.startswith("PREPEND"):
        completion = spec[len("PREPEND"):] + base
    elif spec.startswith("BODY"):
        completion = spec[len("BODY"):]
    elif spec.startswith("RIGHTLESS"):
        completion = spec[len("RIGHTLESS"):]
    elif language == "python" and base is None:
        completion = spec  # the Python matrix entries are whole completions
    else:
        completion = base + spec
    return ex.program(prompt, completion, p["test"], p["entry_point"])


@pytest.mark.parametrize("language", sorted(HOSTILE))
def test_only_programs_whose_tests_ran_to_the_end_pass(shared_data, language):
    ex = _need(language)
    p = _problem(shared_data, language)
    right, wrong = _right(language, p), _wrong(language)
    cases = {"right": ex.program(p["prompt"], right, p["test"], p["entry_point"]),
             "wrong": ex.program(p["prompt"], wrong, p["test"], p["entry_point"])}
    for name, spec in HOSTILE[language].items():
        cases[name] = _build(ex, p, language, spec, None if language == "python" else wrong)
    if language in CLOSE_STDOUT:
        # closing stdout must never hide a failure (a right solution may still pass: its tests did run)
        cases["wrong + close stdout"] = _build(ex, p, language, CLOSE_STDOUT[language], wrong)
    assert all(isinstance(src, Program) for src in cases.values())
    results = dict(zip(cases, execute_many([(ex, src) for src in cases.values()], workers=4)))
    good = results.pop("right")
    assert good.status == "ok", (good.stderr or good.stdout)[-1500:]
    assert PASS_PREFIX + "<verified>" in good.stdout  # the token line itself is not kept
    passed = {name: (r.status, r.stderr[-300:]) for name, r in results.items() if r.ok}
    assert passed == {}, f"{language}: these hostile programs passed: {passed}"
    for name, r in results.items():
        assert r.extra.get("reason"), name  # every failure says why
    # exit status 0 alone is what used to pass: those are now named as such
    exited_zero = {name for name, r in results.items() if r.returncode == 0}
    assert all(results[n].status == "no_pass_token" for n in exited_zero)
    assert exited_zero, "no hostile program exited 0: the matrix does not exercise the token check"


def test_python_builtins_and_module_tampering_cannot_reach_the_checks():
    """Checks that go through abs() (HumanEval's float problems do): patching builtins or shadowing abs
    must not pass. The problem is written here: no HumanEval-XL Python problem checks through abs() alone."""
    ex = _need("python")
    p = {"prompt": "def square(x: float) -> float:\n    \"\"\"x times x\"\"\"\n",
         "canonical_solution": "    return x * x\n", "entry_point": "square",
         "test": "def check(candidate):\n    assert abs(candidate(2.0) - 4.0) < 1e-6\n"
                 "    assert abs(candidate(3.0) - 9.0) < 1e-6\n"}
    wrong = "    return 12345.0\n"
    attacks = {
        "builtins.abs patched": wrong + "import builtins\nbuiltins.abs = lambda x: 0\n",
        "abs shadowed by a global": wrong + "abs = lambda x: 0\n",
    }
    jobs = [(ex, ex.program(p["prompt"], p["canonical_solution"], p["test"], p["entry_point"]))]
    jobs += [(ex, ex.program(p["prompt"], c, p["test"], p["entry_point"])) for c in attacks.values()]
    good, *bad = execute_many(jobs, workers=3)
    assert good.ok, good.stderr[-800:]
    assert [r.ok for r in bad] == [False] * len(attacks)


def test_a_module_the_tests_use_is_checked_for_replaced_functions(shared_data):
    ex = _need("python")
    p = _problem(shared_data, "python")
    test = p["test"].replace("def check(candidate):\n", "import math\n\ndef check(candidate):\n    assert math.isclose(1.0, 2.0) or True\n")
    cheat = p["canonical_solution"] + "import math\nmath.isclose = lambda *a, **k: True\n"
    r = ex.execute(ex.program(p["prompt"], cheat, test, p["entry_point"]))
    assert not r.ok and "math.isclose" in r.stderr


def test_a_plain_string_runs_as_is_but_a_program_needs_its_token(shared_data):
    """Scores always go through Executor.program; the same text as a plain string is not harnessed."""
    ex = _need("python")
    p = _problem(shared_data, "python")
    prog = ex.program(p["prompt"], HOSTILE["python"]["sys.exit(0)"], p["test"], p["entry_point"])
    harnessed, plain = ex.execute(prog), ex.execute(str(prog))
    assert plain.status == "ok"  # what every program scored before the harness: exit status 0
    assert harnessed.status == "no_pass_token" and harnessed.returncode == 0
    assert "without the pass token" in harnessed.extra["reason"]


@pytest.mark.parametrize("language", ["python", "javascript", "perl", "ruby"])
def test_the_program_cannot_find_its_token_in_files_env_or_arguments(shared_data, monkeypatch, language):
    """A right solution that dumps its folder, environment and command line: the token is in none of them."""
    from mmx.execution import harness

    ex = _need(language)
    secret = "feedfacefeedfacefeedfacefeedface"
    monkeypatch.setattr(harness, "new_token", lambda: secret)
    p = _problem(shared_data, language)
    spy = {
        "python": ("import os\nfor _f in sorted(os.listdir('.')):\n    print('FILE', _f, open(_f, errors='replace').read())\n"
                   "print('ENV', dict(os.environ))\nprint('ARGV', open('/proc/self/cmdline').read())\n"),
        "javascript": ("const _fs = require('fs');\nfor (const f of _fs.readdirSync('.')) console.log('FILE', f, _fs.readFileSync(f, 'utf8'));\n"
                       "console.log('ENV', JSON.stringify(process.env), 'ARGV', _fs.readFileSync('/proc/self/cmdline', 'utf8'));\n"),
        "perl": ("opendir(my $__d, '.'); for my $f (readdir($__d)) { next if -d $f; open(my $h, '<', $f); local $/; "
                 "print 'FILE ', $f, ' ', <$h>, \"\\n\"; }\nprint 'ENV ', join(',', %ENV), \"\\n\";\n"),
        "ruby": ("Dir.children('.').each { |f| puts \"FILE #{f} #{File.read(f)}\" }\nputs \"ENV #{ENV.to_h}\"\n"
                 "puts \"ARGV #{File.read('/proc/self/cmdline')}\"\n"),
    }[language]
    right = _right(language, p)
    r = ex.execute(ex.program(p["prompt"], right + spy, p["test"], p["entry_point"]))
    assert r.ok, (r.stderr or r.stdout)[-800:]
    listing = r.stdout  # the pass line itself is already replaced by "MMX-PASS <verified>"
    assert "FILE " in listing and "ENV" in listing and PASS_PREFIX + "<verified>" in listing
    assert secret not in listing and "FILE " + TOKEN_FILE not in listing


@pytest.mark.parametrize("language,needle", [
    ("csharp", "MmxMain(args)"), ("kotlin", "mmxMain()"), ("scala", "MmxHarness"), ("swift", "MMX-PASS"),
    ("java", "Main.mmxMain(args)"), ("go", "func mmxMain()"),
])
def test_harness_code_for_every_language_prints_the_token_after_the_tests(shared_data, language, needle):
    """The runtimes of C#, Kotlin, Scala and Swift are not installed here: check their harness text."""
    from mmx.execution import harness

    p = _problem(shared_data, language)
    prog = EXECUTORS[language].program(p["prompt"], "", p["test"], p["entry_point"])
    text = "".join(harness.build(language, prog, "abc123").values())
    assert needle in text
    # the token is printed after the tests' own code: the harness text follows the last line of the tests
    assert text.rfind(PASS_PREFIX.strip()) > text.find(p["test"].strip().splitlines()[-1].strip() or "}")
    assert "mmx harness" in text or "MmxHarness" in text or "__mmx_" in text
