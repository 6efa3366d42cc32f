"""Batch compilation (mmx/execution/batch.py): one compiler start for many Java / TypeScript programs gives
the same verdicts as one compile per program, attributes compile errors to their own program, and no
program can reach another's code."""
import pytest

from mmx.execution import EXECUTORS, batch, execute_many, references

TASK0 = {
    "java": ("import java.util.*;\n\nclass BelowZero {\n    public static boolean belowZero(List<Object> operations) {\n",
             "class Main {\n    public static void main(String[] args) {\n"
             "        if (!BelowZero.belowZero(Arrays.asList(1, -2))) throw new AssertionError(\"t1\");\n"
             "        if (BelowZero.belowZero(Arrays.asList(1, 2))) throw new AssertionError(\"t2\");\n    }\n}\n"),
    "typescript": ("function below_zero(operations: number[]): boolean {\n",
                   "\nconst assert = require('node:assert');\nassert.deepEqual(below_zero([1, -2]), true);\n"
                   "assert.deepEqual(below_zero([1, 2]), false);\n"),
}


def programs(lang):
    ex = EXECUTORS[lang]
    if ex.missing():
        pytest.skip(f"{lang}: {ex.missing()}")
    head, test = TASK0[lang]
    body = references.BODIES[lang]
    syntax = "        return }}}{{ ;\n" if lang == "java" else "  return }}}{{ ;\n"
    return ex, {"good": ex.program(head, body, test), "wrong": ex.program(head, references.broken(lang), test),
                "exit0": ex.program(head, references.early_exit(lang), test), "syntax": ex.program(head, syntax, test)}


@pytest.mark.parametrize("lang", ["java", "typescript"])
def test_batched_verdicts_equal_per_program_verdicts(lang):
    ex, p = programs(lang)
    order = ["good", "syntax", "wrong", "good", "exit0", "good"]
    jobs = [(ex, p[k]) for k in order]
    batched = execute_many(jobs, workers=1)
    single = execute_many(jobs, workers=1, batch_compile=False)
    assert [r.status for r in batched] == [r.status for r in single] == \
        ["ok", "error", "error", "ok", "no_pass_token", "ok"]
    # the compile error is the program's own, with its own message, as without batching
    err = batched[1].stderr
    assert err.strip() and "mmxp" not in err and err == single[1].stderr


def test_a_java_program_cannot_load_another_programs_classes():
    ex, p = programs("java")
    head, test = TASK0["java"]
    spy = ex.program(head, "        try { Class.forName(\"mmxp0.BelowZero\"); System.out.println(\"SAW mmxp0\"); }\n"
                     "        catch (ClassNotFoundException e) { System.out.println(\"alone\"); }\n"
                     + references.BODIES["java"], test)
    res = batch.execute_chunk(ex, [p["good"], spy], slot=0)
    assert res[0].status == "ok" and res[1].status == "ok"
    assert "alone" in res[1].stdout and "SAW" not in res[1].stdout
