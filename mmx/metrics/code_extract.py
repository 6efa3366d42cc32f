"""Chat models and HumanEval-style prompts: the user message, and the completion taken back from the answer.

The message follows lm-evaluation-harness's ``humaneval_instruct`` task (its ``doc_to_text``: "Write a
solution to the following problem and make sure that it passes the tests:" then the prompt in a fenced
block). lm-eval then pre-fills the assistant turn with the prompt; mmx does not (it lets the model answer
freely, as a chat endpoint would), so the code is taken back from the answer the way
bigcode-evaluation-harness's instruct tasks do: the answer's first fenced code block (``` with or without a
language tag; an unclosed one runs to the end), else the whole answer; the part of the prompt the model
repeated (all of it, or the imports and the function signature) is removed, so that
``prompt + completion + tests`` still runs as in completion mode (in Python, imports and helpers the model
wrote above the function move to just after its body). Stop sequences are not applied: the
answer ends at the model's end-of-turn token.

Python answers are then sanitised as EvalPlus's ``sanitize`` does: of the module-level code the model wrote,
only imports, function and class definitions, and assignments that a kept definition reads stay; its demo
code (``print(f(3))``, example asserts, ``if __name__ == "__main__":`` blocks) goes, because it runs before
the tests and a crash there would fail a correct function (7 of 29 chat-mode failures of
Qwen2.5-Coder-0.5B-Instruct on HumanEval-XL en/python were such crashes). An answer that does not parse is
left as it is: the tests then report the syntax error.
"""
from __future__ import annotations

import ast
import re

from mmx.errors import MmxError

CHAT_INSTRUCTION = "Write a solution to the following problem and make sure that it passes the tests:"

# a fence line (any indentation, optional language tag), the code, then the closing fence or the end
_FENCE = re.compile(r"^[ \t]*```[^\n`]*\n(.*?)(?:^[ \t]*```|\Z)", re.S | re.M)
_PY_DEF = re.compile(r"^[ \t]*(?:async[ \t]+)?def[ \t]+(\w+)[ \t]*\(", re.M)
_CALLABLE = re.compile(r"(\w+)\s*\(")
_PY_IMPORT = re.compile(r"^(?:import[ \t]+\w|from[ \t]+[\w.]+[ \t]+import[ \t])")


def chat_message(prompt: str) -> str:
    """The user turn for a code prompt (the fence is untagged: one message serves every language)."""
    return f"{CHAT_INSTRUCTION}\n```\n{prompt.rstrip()}\n```"


def code_blocks(answer: str) -> list[str]:
    return [m.group(1) for m in _FENCE.finditer(answer.replace("\r\n", "\n"))]


def _signature(prompt: str) -> tuple[str, str, bool]:
    """(the function's signature line, its name, whether the prompt is Python)."""
    defs = list(_PY_DEF.finditer(prompt))
    if defs:  # Python: the last def (the docstring follows it)
        m = defs[-1]
        end = prompt.find("\n", m.start())
        return prompt[m.start():end if end != -1 else None].strip(), m.group(1), True
    lines = [x.strip() for x in prompt.splitlines() if x.strip()]
    sig = lines[-1] if lines else ""  # brace languages: the prompt ends with the signature
    m = _CALLABLE.search(sig)
    return sig, (m.group(1) if m else ""), False


def _find_signature(code: str, sig: str, name: str, python: bool) -> tuple[int, int] | None:
    """(start of the repeated signature in ``code``, end of its last line) or None."""
    if python and name:
        m = re.search(rf"^[ \t]*(?:async[ \t]+)?def[ \t]+{re.escape(name)}[ \t]*\(", code, re.M)
        if not m:
            return None
        pos = m.start()
        while True:  # a signature may wrap over lines: it ends at the first line ending with ':'
            end = code.find("\n", pos)
            end = len(code) if end == -1 else end
            if code[pos:end].split("#")[0].rstrip().endswith(":") or end == len(code):
                return m.start(), end
            pos = end + 1
    start = 0
    for line in code.splitlines(keepends=True):
        s = line.strip()
        if sig and (s == sig or (name and re.search(rf"\b{re.escape(name)}\s*\(", s) and s.endswith("{"))):
            return start, start + len(line.rstrip("\n"))
        start += len(line)
    return None


def _own_prefix(prompt: str, before: str, fenced: bool) -> str:
    """The lines above the repeated signature that the prompt does not have (outside a code block: only
    imports, since the rest is prose)."""
    mine = {x.strip() for x in prompt.splitlines() if x.strip()}
    keep = [x for x in before.splitlines() if x.strip() not in mine and (fenced or _PY_IMPORT.match(x.strip()))]
    return "\n".join(keep).strip("\n")


def _after_function(body: str, extra: str) -> str:
    """``extra`` placed at module level right where the function's body ends (before any code that follows
    it, which may call the helpers): it is defined before the tests run, as it was in the model's program."""
    if not extra.strip():
        return body
    lines = body.splitlines(keepends=True)
    cut = next((i for i, x in enumerate(lines) if i and x.strip() and not x[0].isspace()), len(lines))
    head = "".join(lines[:cut]).rstrip("\n")
    return f"{head}\n\n\n{extra}\n\n\n{''.join(lines[cut:])}"


def _indent(code: str, by: str) -> str:
    return "".join(by + x if x.strip() else x for x in code.splitlines(keepends=True))


def answer_to_completion(prompt: str, answer: str) -> str:
    """A chat model's answer -> the text that follows ``prompt`` (see the module docstring)."""
    sig, name, python = _signature(prompt)
    blocks = code_blocks(answer)
    # the first block that holds the function (answers may open with "pip install ..."), else the first
    code = next((b for b in blocks if _find_signature(b, sig, name, python)), blocks[0]) if blocks \
        else answer.replace("\r\n", "\n")
    lead = "\n" if not prompt.endswith("\n") else ""
    head = prompt.rstrip()
    found = (code.index(head), code.index(head) + len(head)) if head and head in code \
        else _find_signature(code, sig, name, python)  # all of the prompt repeated, or its signature
    if found:
        start, end = found
        body = code[end:].lstrip("\n")
        if python:  # what the model wrote above the function (imports, helpers) goes right after it
            body = _after_function(body, _own_prefix(prompt, code[:start], fenced=bool(blocks)))
            body = drop_demo_code(prompt + lead, body)
        return lead + body
    body = code.lstrip("\n")
    first = next((x for x in body.splitlines() if x.strip()), "")
    if python and first and first == first.lstrip() and not re.match(r"(def|class|import|from|@)\b", first):
        body = _indent(body, "    ")  # a bare body written at column 0: it belongs inside the function
    return lead + (drop_demo_code(prompt + lead, body) if python else body)


_KEEP = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def drop_demo_code(prompt: str, completion: str) -> str:
    """``completion`` without the module-level statements it adds that are not definitions (see the module
    docstring); unchanged when ``prompt + completion`` does not parse."""
    try:
        tree = ast.parse(prompt + completion)
    except (SyntaxError, ValueError):
        return completion
    first = prompt.count("\n") + 1  # the completion's first line (1-based; the prompt ends with a newline)
    mine = [n for n in tree.body if n.lineno >= first]
    kept = [n for n in mine if isinstance(n, _KEEP)] + [n for n in tree.body if n.lineno < first]
    used = {x.id for n in kept for x in ast.walk(n) if isinstance(x, ast.Name)}
    drop = []
    for n in mine:
        if isinstance(n, _KEEP):
            continue
        targets = n.targets if isinstance(n, ast.Assign) else [n.target] if isinstance(n, ast.AnnAssign) else None
        if targets and all(isinstance(t, ast.Name) and t.id in used for t in targets):
            continue  # a constant a kept function reads
        drop.append(n)
    if not drop:
        return completion
    lines = (prompt + completion).splitlines(keepends=True)
    gone = set()
    for n in drop:
        start = min([n.lineno] + [d.lineno for d in getattr(n, "decorator_list", [])])
        gone.update(range(start, n.end_lineno + 1))
    out = "".join(x for i, x in enumerate(lines, 1) if i >= first and i not in gone)
    return re.sub(r"\n{4,}", "\n\n\n", out).rstrip("\n") + "\n"


def parse_flag(value, where: str) -> bool:
    """A yes/no model arg (``chat_template=true``) from the command line's text."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise MmxError(f"{where}={value!r}: use true or false")
