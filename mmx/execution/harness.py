"""Pass-token test harnesses: a program passes only when its own tests ran to the end and said so.

Every program ``Executor.program`` builds (prompt + completion + tests) runs inside harness code that
``Executor.execute`` adds afresh for each run:

1. before any code of the completion can run, the harness reads a fresh random token (16 random bytes)
   from the file ``.mmx-pass`` in the work dir and deletes the file; the token is never in the program's
   source, its arguments or its environment, and the harness's own names are random per run;
2. after the last check (for languages whose tests are a ``main``: after that ``main`` returned) the
   harness verifies that the check machinery it captured before the completion ran is intact, then
   writes ``MMX-PASS <token>`` on stdout (the file descriptor itself, not a stream the program can swap);
3. the executor counts a pass only for exit status 0 AND that exact line on stdout.

So ending early with success (``sys.exit(0)``, ``process.exit(0)``, ``System.exit``, ``os.Exit``,
``exit``/``die``/``exit!``/``POSIX::_exit``, ``__halt_compiler``, a top-level ``return``, ``__END__``),
exit hooks and exception hooks that turn a failure into status 0 (``atexit``, ``process.on('exit')``,
shutdown hooks, ``END``, ``register_shutdown_function``, ``at_exit``, ``sys.excepthook``,
``uncaughtException``, ``set_exception_handler``, default uncaught-exception handlers, ``$SIG{__DIE__}``),
printing a fake pass line, reading the token file, and closing or redirecting stdout all end without the
token: failed. Tampering with the checks is closed per language:

- Python: the tests run in a namespace of their own with a pristine copy of the builtins, so a later
  ``def check``, globals shadowing builtins and monkeypatched builtins do not reach them; modules the tests
  use are checked for replaced attributes; the candidate is wrapped so every result must be a plain
  builtin value (no object whose ``__eq__`` is always true); trace/profile hooks are removed before the
  checks (a trace function can jump over ``assert`` lines).
- JavaScript/TypeScript: ``assert`` and ``lodash`` are frozen before the completion runs; ``require``,
  the module loader and the modules' identity are verified after the tests.
- Java/Kotlin/Scala/C#/Go/Swift: the harness ``main`` calls the tests' ``main`` and prints the token when
  it returns; Java's ``compare`` rejects values of the program's own classes (a custom ``equals``); Go
  rejects a package that shadows ``panic``, ``true`` or ``false``.
- Perl: redefinitions of ``die``/``exit`` through ``CORE::GLOBAL``, of ``Data::Compare::Compare`` and
  source filters are refused. Ruby: the tested function's results must be plain values, and redefined
  comparison methods, ``raise``, or refinements in effect are refused. PHP cannot redefine functions.

Threat model: the completion is untrusted text from a model; it does not know the token or the harness's
per-run names. A completion that deliberately introspects its own process (reads its own source to find
the per-run names, walks the interpreter's frames or memory, patches the runtime through ctypes/unsafe,
or tampers and then restores from its own exit hook) can always cheat in-process; what is closed is every
practical class above. The sandbox (mmx.execution.sandbox) is the boundary for everything outside the
process. The token check itself follows the approach of "canary" outputs in test runners: success is a
positive statement from the end of the test code, not the absence of a failure.
"""
from __future__ import annotations

import json
import re
import secrets

TOKEN_FILE = ".mmx-pass"
PASS_PREFIX = "MMX-PASS "
DESCRIPTION = ("pass = exit status 0 and the line 'MMX-PASS <token>' on stdout, printed by harness code after "
               "the last check; the token is a fresh random value per run, read and deleted by the harness "
               "before the completion runs; check machinery is captured before and verified after")


class Program(str):
    """Source made by ``Executor.program``: ``head`` (prompt + completion) then ``test``.

    ``Executor.execute`` runs a Program under the pass-token harness; a plain string runs as it is and
    passes on exit status 0 (sandbox self-tests), so scores must always come from a Program.
    """

    def __new__(cls, head: str, test: str, entry_point: str = "", style: str = "humaneval-xl"):
        obj = super().__new__(cls, head + test)
        obj.head, obj.test, obj.entry_point, obj.style = head, test, entry_point, style
        return obj


def new_token() -> str:
    return secrets.token_hex(16)


def tag() -> str:
    """A per-run identifier suffix: harness names a completion cannot guess."""
    return secrets.token_hex(6)


def verdict(stdout: str, token: str) -> bool:
    return (PASS_PREFIX + token) in stdout.splitlines()


# ---------------------------------------------------------------------------------------------- Python
# The driver runs prog.py's two parts itself. Everything after the completion's code returns is on one
# line up to the removal of trace hooks, so a trace function cannot jump over it.
PY_DRIVER = r'''
import builtins, os, sys, types, threading, ast
def _mmx_main(meta):
    fd = os.open(".mmx-pass", os.O_RDONLY); tok = os.read(fd, 200).decode(); os.close(fd); os.unlink(".mmx-pass")
    write, settrace, setprofile, tp, FT = os.write, sys.settrace, sys.setprofile, type, types.FunctionType
    tsettrace, tsetprofile, modules = threading.settrace, threading.setprofile, sys.modules
    with open("prog.py", encoding="utf-8", newline="") as f:
        src = f.read()
    head, test, entry, style = src[:meta["head"]], src[meta["head"]:], meta["entry"], meta["style"]
    used = {"math", "re", "string", "collections", "itertools", "functools", "operator", "heapq", "copy", "random", "typing", "fractions", "decimal"}
    try:
        for node in ast.walk(ast.parse(test)):
            if isinstance(node, ast.Import):
                used.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                used.add(node.module)
    except (SyntaxError, ValueError):
        pass
    for m in sorted(used):
        try:
            __import__(m)
        except Exception:
            pass
    pristine = dict(vars(builtins))
    snap = {m: (modules[m], dict(vars(modules[m]))) for m in used if m in modules}
    code_head = compile(head, "prog.py", "exec")
    code_test = compile("\n" * head.count("\n") + test, "prog.py", "exec")
    first_test_line = head.count("\n") + 1
    PLAIN = {id(t) for t in (int, float, complex, str, bytes, bool, type(None))}
    SEQ = {id(t) for t in (list, tuple, set, frozenset)}
    def plain(v):
        todo = [v]
        while todo:
            x = todo.pop(); t = id(tp(x))
            if t in SEQ:
                todo.extend(x)
            elif t == id(dict):
                todo.extend(x.keys()); todo.extend(x.values())
            elif t not in PLAIN:
                raise TypeError("mmx harness: the solution returned a %s; only plain values (numbers, strings, "
                                "lists, tuples, sets, dicts, None) are compared" % tp(x).__name__)
    def guard(fn):
        def candidate(*a, **k):
            r = fn(*a, **k); plain(r); return r
        return candidate
    def intact():
        for m, (mod, d) in snap.items():
            if modules.get(m) is not mod:
                raise RuntimeError("mmx harness: the program replaced the module %s" % m)
            now = vars(mod)
            for k, v in d.items():
                if now.get(k, intact) is not v:
                    raise RuntimeError("mmx harness: the program changed %s.%s" % (m, k))
    ns = {"__name__": "__main__", "__file__": "prog.py", "__doc__": None, "__builtins__": builtins}
    def run_tests():
        # the tests get their own namespace: the completion's globals minus any that shadow a builtin,
        # pristine builtins, and the real modules under their own names
        tns = {k: v for k, v in ns.items() if not (k in pristine and not k.startswith("__"))}
        tns["__builtins__"] = dict(pristine)
        for m, (mod, _) in snap.items():
            if "." not in m and m in tns:
                tns[m] = mod
        exec(code_test, tns)
        if style == "humaneval-xl":
            chk = tns.get("check")
            c = getattr(chk, "__code__", None)
            if tp(chk) is not FT or c is None or c.co_filename != "prog.py" or c.co_firstlineno < first_test_line:
                raise RuntimeError("mmx harness: check is not the function the tests define")
            if not entry or entry not in ns:
                raise RuntimeError("mmx harness: no function %r to test" % entry)
            intact()
            chk(guard(ns[entry]))
        intact()
        write(1, ("\nMMX-PASS " + tok + "\n").encode())
    sys.argv = ["prog.py"]
    exec(code_head, ns); settrace(None); setprofile(None); tsettrace(None); tsetprofile(None); run_tests()
'''


def python_files(p: Program, run_tag: str) -> dict[str, str]:
    meta = {"head": len(p.head), "entry": p.entry_point, "style": p.style}
    return {"prog.py": str(p), "mmx_harness.py": PY_DRIVER + f"\n_mmx_main({json.dumps(meta)})\n"}


# ------------------------------------------------------------------------------------- JavaScript / TS
JS_PREFIX = r'''const __mmx_TAG = (function () {
  "use strict";
  const fs = require("fs"), Module = require("module");
  const tok = fs.readFileSync(".mmx-pass", "utf8"); fs.unlinkSync(".mmx-pass");
  const writeSync = fs.writeSync, isFrozen = Object.isFrozen, freeze = Object.freeze;
  const req = require, load = Module._load, proto = Module.prototype.require;
  const assert = require("assert"); freeze(assert); if (assert.strict) freeze(assert.strict);
  let lodash = null;
  try { lodash = require("lodash"); freeze(lodash); } catch (e) { lodash = null; }
  let done = false;
  return function (r) {
    if (done) throw new Error("mmx harness: finished twice");
    done = true;
    if (r !== req || Module._load !== load || Module.prototype.require !== proto || r("assert") !== assert
        || !isFrozen(assert) || (lodash !== null && (r("lodash") !== lodash || !isFrozen(lodash))))
      throw new Error("mmx harness: the program replaced require, the module loader, assert or lodash");
    writeSync(1, "\nMMX-PASS " + tok + "\n");
  };
})();
'''


def js_files(p: Program, run_tag: str, filename: str) -> dict[str, str]:
    name = f"__mmx_{run_tag}"
    src = JS_PREFIX.replace("__mmx_TAG", name) + str(p) + f"\n;{name}(require);\n"
    return {filename: src}


# ------------------------------------------------------------------------------------------------ Java
JAVA_HARNESS = r'''
final class MmxHarness {
    private MmxHarness() {}
    static void plain(Object o) {
        if (o == null) return;
        if (o.getClass().getClassLoader() != null)
            throw new IllegalStateException("mmx harness: the solution returned a " + o.getClass().getName()
                + "; only JDK values are compared");
        if (o instanceof java.util.Collection<?> c) { for (Object x : c) plain(x); }
        else if (o instanceof java.util.Map<?, ?> m) { for (java.util.Map.Entry<?, ?> e : m.entrySet()) { plain(e.getKey()); plain(e.getValue()); } }
        else if (o instanceof Object[] a) { for (Object x : a) plain(x); }
        else if (o instanceof java.util.Optional<?> op && op.isPresent()) { plain(op.get()); }
    }
    public static void main(String[] args) throws Throwable {
        java.nio.file.Path p = java.nio.file.Path.of(".mmx-pass");
        String t = java.nio.file.Files.readString(p);
        java.nio.file.Files.delete(p);
        java.io.PrintStream out = new java.io.PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true, "UTF-8");
        MAINCLASS.mmxMain(args);
        out.print("\nMMX-PASS " + t + "\n");
        out.flush();
        if (out.checkError()) Runtime.getRuntime().halt(1);
    }
}
'''
_JAVA_MAIN = re.compile(r"\bstatic\s+void\s+main\s*\(")
_JAVA_COMPARE = re.compile(r"\bstatic\s+boolean\s+compare\s*\(\s*Object\s+(\w+)\s*,\s*Object\s+(\w+)\s*\)[^{;]*\{")


class HarnessError(ValueError):
    """The tests have no shape the harness knows (no main to call): the program cannot pass."""


def _enclosing_class(text: str, pos: int, keyword: str = "class") -> str:
    names = re.findall(rf"\b(?:{keyword})\s+(\w+)", text[:pos])
    if not names:
        raise HarnessError("no class encloses the tests' main")
    return names[-1]


def java_files(p: Program, run_tag: str) -> dict[str, str]:
    test = p.test
    m = _JAVA_MAIN.search(test)
    if not m:
        raise HarnessError("the tests have no main method")
    cls = _enclosing_class(p.head + test, len(p.head) + m.start())
    test = test[:m.start()] + m.group(0).replace("main", "mmxMain") + test[m.end():]
    test = _JAVA_COMPARE.sub(lambda c: c.group(0) + f" MmxHarness.plain({c.group(1)}); MmxHarness.plain({c.group(2)});",
                             test, count=1)
    return {"Main.java": p.head + test + JAVA_HARNESS.replace("MAINCLASS", cls)}


# ---------------------------------------------------------------------------------------------- Kotlin
KOTLIN_HARNESS = r'''
// mmx harness: the tests' main runs as mmxMain; the pass token is printed only when it returns
fun main(args: Array<String>) {
    val mmxP = java.io.File(".mmx-pass")
    val mmxT = mmxP.readText()
    mmxP.delete()
    val mmxOut = java.io.PrintStream(java.io.FileOutputStream(java.io.FileDescriptor.out), true, "UTF-8")
    CALL
    mmxOut.print("\nMMX-PASS " + mmxT + "\n")
    mmxOut.flush()
    if (mmxOut.checkError()) Runtime.getRuntime().halt(1)
}
'''
_KT_MAIN = re.compile(r"\bfun\s+main\s*\(([^)]*)\)")


def kotlin_files(p: Program, run_tag: str) -> dict[str, str]:
    m = _KT_MAIN.search(p.test)
    if not m:
        raise HarnessError("the tests have no main function")
    call = "mmxMain(args)" if m.group(1).strip() else "mmxMain()"
    test = p.test[:m.start()] + f"fun mmxMain({m.group(1)})" + p.test[m.end():]
    return {"main.kt": p.head + test + KOTLIN_HARNESS.replace("CALL", call)}


# ----------------------------------------------------------------------------------------------- Scala
SCALA_HARNESS = r'''
object MmxHarness {
  def main(args: Array[String]): Unit = {
    val p = java.nio.file.Paths.get(".mmx-pass")
    val t = new String(java.nio.file.Files.readAllBytes(p), "UTF-8")
    java.nio.file.Files.delete(p)
    val out = new java.io.PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true, "UTF-8")
    MAINCLASS.main(args)
    out.print("\nMMX-PASS " + t + "\n")
    out.flush()
    if (out.checkError()) Runtime.getRuntime().halt(1)
  }
}
'''


def scala_files(p: Program, run_tag: str) -> dict[str, str]:
    # HumanEval-XL Scala: `object Main extends App { <prompt> <completion> <tests> }`; App runs its body in main.
    m = re.search(r"\bobject\s+(\w+)\s+extends\s+App\b", p.head + p.test)
    cls = m.group(1) if m else None
    if cls is None:
        mm = re.search(r"\bdef\s+main\s*\(", p.test)
        if not mm:
            raise HarnessError("the tests have no App object or main method")
        cls = _enclosing_class(p.head + p.test, len(p.head) + mm.start(), "class|object")
    return {"Main.scala": str(p) + SCALA_HARNESS.replace("MAINCLASS", cls)}


# ---------------------------------------------------------------------------------------------- C#
CSHARP_HARNESS = r'''
public static class MmxHarness
{
    public static void Main(string[] args)
    {
        var t = System.IO.File.ReadAllText(".mmx-pass");
        System.IO.File.Delete(".mmx-pass");
        var o = new System.IO.StreamWriter(System.Console.OpenStandardOutput());
        global::MAINCLASS.MmxMain(args);
        o.Write("\nMMX-PASS " + t + "\n");
        o.Flush();
    }
}
'''
_CS_MAIN = re.compile(r"\bstatic\s+(?:async\s+)?(?:void|int)\s+Main\s*\(")


def csharp_files(p: Program, run_tag: str) -> dict[str, str]:
    m = _CS_MAIN.search(p.test)
    if not m:
        raise HarnessError("the tests have no Main method")
    full = p.head + p.test
    cls = _enclosing_class(full, len(p.head) + m.start())
    ns = re.search(r"\bnamespace\s+([\w.]+)", full[:len(p.head) + m.start()])
    qual = f"{ns.group(1)}.{cls}" if ns else cls
    test = p.test[:m.start()] + m.group(0).replace("Main", "MmxMain") + p.test[m.end():]
    return {"Program.cs": p.head + test + CSHARP_HARNESS.replace("MAINCLASS", qual)}


# ----------------------------------------------------------------------------------------------- Swift
SWIFT_PREFIX = r'''import Foundation
let __mmx_TAG: String = {
    let p = ".mmx-pass"
    guard let t = try? String(contentsOfFile: p, encoding: .utf8) else { fputs("mmx harness: no pass token\n", stderr); exit(3) }
    try? FileManager.default.removeItem(atPath: p)
    return t
}()
'''


def swift_files(p: Program, run_tag: str) -> dict[str, str]:
    # main.swift runs its top-level code in order: the prefix before the completion, the suffix after the tests.
    name = f"__mmx_{run_tag}"
    suffix = (f'\nFileHandle.standardOutput.write(("\\nMMX-PASS " + {name} + "\\n").data(using: .utf8)!)\n')
    return {"main.swift": SWIFT_PREFIX.replace("__mmx_TAG", name) + str(p) + suffix}


# -------------------------------------------------------------------------------------------------- Go
GO_HARNESS = r'''package main

import "os"

var mmxTok_TAG = func() string {
	b, err := os.ReadFile(".mmx-pass")
	if err != nil {
		os.Stderr.WriteString("mmx harness: no pass token\n")
		os.Exit(3)
	}
	os.Remove(".mmx-pass")
	return string(b)
}()

var mmxOut_TAG = os.NewFile(1, "stdout")

// Does not compile when the package shadows the builtin panic (a no-op panic would silence the checks).
func mmxTerminates_TAG() int { panic("mmx") }

func main() {
	mmxMain()
	var mmxNil_TAG *int
	if (1 == 1) != true || (1 == 2) != false || mmxNil_TAG != nil {
		os.Stderr.WriteString("mmx harness: the program redefines true, false or nil\n")
		os.Exit(4)
	}
	if _, err := mmxOut_TAG.Write([]byte("\nMMX-PASS " + mmxTok_TAG + "\n")); err != nil {
		os.Exit(1)
	}
}
'''
_GO_MAIN = re.compile(r"\bfunc\s+main\s*\(\s*\)")


def go_files(p: Program, run_tag: str) -> dict[str, str]:
    m = _GO_MAIN.search(p.test)
    if not m:
        raise HarnessError("the tests have no func main()")
    test = p.test[:m.start()] + "func mmxMain()" + p.test[m.end():]
    # a_mmx.go sorts (and is listed) first: its token variable is initialised before any of the program's.
    return {"main.go": p.head + test, "a_mmx.go": GO_HARNESS.replace("_TAG", "_" + run_tag)}


# ------------------------------------------------------------------------------------------------ Perl
# BEGIN at the top runs before any BEGIN/use of the completion; END defined first runs last.
PERL_PREFIX = r'''my ($__mmx_tok_TAG, $__mmx_done_TAG, $__mmx_cmp_TAG);
BEGIN {
    open(my $__mmx_fh, '<', '.mmx-pass') or do { print STDERR "mmx harness: no pass token\n"; require POSIX; POSIX::_exit(3); };
    local $/; $__mmx_tok_TAG = <$__mmx_fh>; close($__mmx_fh); unlink('.mmx-pass');
    $__mmx_cmp_TAG = eval { require Data::Compare; \&Data::Compare::Compare };
}
END {
    if ($? == 0 && defined($__mmx_done_TAG) && $__mmx_done_TAG eq 'NONCE' && (INTACT)) {
        syswrite(STDOUT, "\nMMX-PASS $__mmx_tok_TAG\n") or $? = 1;
    } elsif ($? == 0) {
        print STDERR "mmx harness: the tests did not run to the end, or the program changed die, exit, Compare or the source\n";
        $? = 1;
    }
}
'''
PERL_INTACT = ("!defined(&CORE::GLOBAL::die) && !defined(&CORE::GLOBAL::exit) && !exists($INC{'Filter/Util/Call.pm'})"
               " && (!defined($__mmx_cmp_TAG) || (\\&Data::Compare::Compare == $__mmx_cmp_TAG"
               " && (!defined(&main::Compare) || \\&main::Compare == $__mmx_cmp_TAG)))")


def perl_files(p: Program, run_tag: str) -> dict[str, str]:
    nonce = secrets.token_hex(8)
    intact = PERL_INTACT.replace("_TAG", "_" + run_tag)
    prefix = PERL_PREFIX.replace("INTACT", intact).replace("NONCE", nonce).replace("_TAG", "_" + run_tag)
    suffix = f"\n;$__mmx_done_{run_tag} = ({intact}) ? '{nonce}' : 'tampered';\n"
    return {"prog.pl": prefix + str(p) + suffix}


# ------------------------------------------------------------------------------------------------- PHP
# Loaded with -d auto_prepend_file: runs before the program; the shutdown function registered first runs
# first; the done flag's name is random per run and does not exist until the last line sets it.
PHP_PREFIX = r'''<?php
(function () {
    $t = @file_get_contents('.mmx-pass');
    if ($t === false) { fwrite(STDERR, "mmx harness: no pass token\n"); exit(3); }
    unlink('.mmx-pass');
    $out = STDOUT;
    register_shutdown_function(function () use ($t, $out) {
        if (($GLOBALS['__mmx_done_TAG'] ?? null) !== 'NONCE') return;
        if (@fwrite($out, "\nMMX-PASS " . $t . "\n") === false) exit(1);
    });
})();
'''


def php_files(p: Program, run_tag: str) -> dict[str, str]:
    nonce = secrets.token_hex(8)
    suffix = f"\n;$GLOBALS['__mmx_done_{run_tag}'] = '{nonce}';\n"
    if p.test.rstrip().endswith("?>"):  # tests that close the PHP tag themselves: reopen it
        suffix = "<?php" + suffix
    return {"prog.php": str(p) + suffix,
            "mmx_prefix.php": PHP_PREFIX.replace("_TAG", "_" + run_tag).replace("NONCE", nonce)}


# ------------------------------------------------------------------------------------------------ Ruby
# Loaded with -r before the program. The at_exit registered first runs last; the done flag's name is
# random per run; the tested function is wrapped (prepended module) between the completion and the tests.
RUBY_PREFIX = r'''
begin
  mmx_tok = File.read(".mmx-pass")
  File.delete(".mmx-pass")
rescue SystemCallError
  $stderr.write("mmx harness: no pass token\n")
  exit!(3)
end
mmx_out = IO.for_fd(1, autoclose: false)
mmx_im = Module.instance_method(:instance_method)
mmx_ueq = UnboundMethod.instance_method(:==)
mmx_eq = BasicObject.instance_method(:equal?)
mmx_cls = Kernel.instance_method(:class)
mmx_sm = Kernel.instance_method(:singleton_methods)
mmx_pf = Module.instance_method(:prepend_features)
mmx_anc = Module.instance_method(:ancestors)
mmx_main = TOPLEVEL_BINDING.receiver
mmx_main_sm = mmx_sm.bind_call(mmx_main).sort
mmx_plain_classes = [Integer, Float, String, Symbol, NilClass, TrueClass, FalseClass, Rational, Complex]
mmx_core = {}
[Integer, Float, String, Symbol, NilClass, TrueClass, FalseClass, Array, Hash, Rational, Complex,
 BasicObject, Object, Kernel, Comparable, Module, Class].each do |c|
  %i[== != ! eql? equal? hash <=> === raise fail class singleton_methods is_a? kind_of? instance_of? each each_pair].each do |m|
    begin
      mmx_core[[c, m]] = mmx_im.bind_call(c, m)
    rescue NameError
    end
  end
end
mmx_intact = lambda do
  mmx_core.all? { |(c, m), um| mmx_ueq.bind_call(mmx_im.bind_call(c, m), um) rescue false } &&
    mmx_sm.bind_call(mmx_main).sort == mmx_main_sm
end
mmx_plain = lambda do |v|
  todo = [v]
  until todo.empty?
    x = todo.pop
    k = mmx_cls.bind_call(x)
    unless mmx_sm.bind_call(x).empty?
      raise TypeError, "mmx harness: the solution returned a value with singleton methods"
    end
    if mmx_eq.bind_call(k, Array)
      todo.concat(x)
    elsif mmx_eq.bind_call(k, Hash)
      todo.concat(x.keys)
      todo.concat(x.values)
    elsif !mmx_plain_classes.any? { |c| mmx_eq.bind_call(k, c) }
      raise TypeError, "mmx harness: the solution returned a #{k}; only plain values are compared"
    end
  end
end
$__mmx_guard_TAG = lambda do |name|
  plain = mmx_plain
  mod = Module.new do
    define_method(name) do |*a, &b|
      r = super(*a, &b)
      plain.call(r)
      r
    end
  end
  mmx_pf.bind_call(mod, Object)
  raise "mmx harness: could not wrap #{name}" unless mmx_eq.bind_call(mmx_anc.bind_call(Object).first, mod)
end
at_exit do
  done = $__mmx_done_TAG
  ok = done.is_a?(Array) && done[0] == "NONCE" && done[1].empty? && mmx_intact.call &&
       ($!.nil? || ($!.is_a?(SystemExit) && $!.success?))
  if ok
    begin
      mmx_out.write("\nMMX-PASS #{mmx_tok}\n")
      mmx_out.flush
    rescue StandardError
      exit!(1)
    end
  elsif $!.nil? || ($!.is_a?(SystemExit) && $!.success?)
    $stderr.write("mmx harness: the tests did not run to the end, or the program redefined comparisons or raise\n") rescue nil
    exit!(1)
  end
end
'''


def ruby_files(p: Program, run_tag: str) -> dict[str, str]:
    nonce = secrets.token_hex(8)
    mid = f"\n$__mmx_guard_{run_tag}.call(:{p.entry_point})\n" if re.fullmatch(r"\w+[?!]?", p.entry_point or "") else "\n"
    suffix = f"\n$__mmx_done_{run_tag} = ['{nonce}', Module.used_modules]\n"
    return {"prog.rb": p.head + mid + p.test + suffix,
            "mmx_prefix.rb": RUBY_PREFIX.replace("_TAG", "_" + run_tag).replace("NONCE", nonce)}


BUILDERS = {
    "python": python_files,
    "javascript": lambda p, t: js_files(p, t, "prog.js"),
    "typescript": lambda p, t: js_files(p, t, "prog.ts"),
    "java": java_files, "kotlin": kotlin_files, "scala": scala_files, "csharp": csharp_files,
    "swift": swift_files, "go": go_files, "perl": perl_files, "php": php_files, "ruby": ruby_files,
}


def build(language: str, p: Program, run_tag: str) -> dict[str, str]:
    """The files of one harnessed run (the token file excluded)."""
    return BUILDERS[language](p, run_tag)
