"""Run `mmx ARGS` in-process for tests: the same entry point as the console script."""
import sys

from mmx.cli import main


def cli(capsys, *args):
    """Returns (exit code, stdout, stderr)."""
    old = sys.argv
    sys.argv = ["mmx", *map(str, args)]
    try:
        main()
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        sys.argv = old
    out = capsys.readouterr()
    return code, out.out, out.err


def run_main(*args) -> int:
    """`mmx ARGS` in-process without capsys (module-scoped fixtures); returns the exit code."""
    old = sys.argv
    sys.argv = ["mmx", *map(str, args)]
    try:
        main()
        return 0
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        sys.argv = old
