"""Hand-written reference solutions for executor self-checks.

HumanEval-XL ships canonical solutions for Python only (the other languages' canonical_solution is
empty), so `mmx verify-execution` checks those executors with a reference completion of task 0
(below_zero) written here for the data's real prompt and tests, plus a broken variant that must fail,
and a broken variant that first ends the process with success (`exit 0`), which must fail too: a
harness that trusts the exit status alone is caught.
"""

TASK = "below_zero"  # HumanEval-XL task <language>/0

BODIES = {
 "java": "        int b = 0;\n        for (Object o : operations) { b += (Integer) o; if (b < 0) return true; }\n        return false;\n    }\n}\n",
 "javascript": "  let b = 0;\n  for (const o of operations) { b += o; if (b < 0) return true; }\n  return false;\n}\n",
 "typescript": "  let b = 0;\n  for (const o of operations) { b += o; if (b < 0) return true; }\n  return false;\n};\n",
 "go": "\tb := 0\n\tfor _, o := range operations {\n\t\tb += o\n\t\tif b < 0 {\n\t\t\treturn true\n\t\t}\n\t}\n\treturn false\n}\n",
 "perl": "  my $b = 0;\n  for my $o (@$operations) { $b += $o; return 1 if $b < 0; }\n  return 0;\n}\n",
 "php": "    $b = 0;\n    foreach ($operations as $o) { $b += $o; if ($b < 0) return true; }\n    return false;\n}\n",
 "ruby": "  b = 0\n  operations.each do |o|\n    b += o\n    return true if b < 0\n  end\n  false\nend\n",
}

# A statement that ends the process with status 0, at the start of the function body (so it runs when
# the tests first call it). Go is absent: its prompts do not import os, so a completion cannot exit 0.
EXITS = {
 "python": "    raise SystemExit(0)\n",
 "java": "        System.exit(0);\n",
 "javascript": "  process.exit(0);\n",
 "typescript": "  process.exit(0);\n",
 "perl": "  exit 0;\n",
 "php": "    exit(0);\n",
 "ruby": "  exit(0)\n",
}


def broken(language: str) -> str:
    """The reference with the comparison weakened: tests 2, 4 and 5 must then fail."""
    return BODIES[language].replace("b < 0", "b < -1000")


def early_exit(language: str, body: str | None = None) -> str:
    """``body`` (default: the broken reference) preceded by a successful exit: must never pass."""
    return EXITS[language] + (broken(language) if body is None else body)
