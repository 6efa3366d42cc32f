"""Rlimits-only launcher for running WITHOUT isolation (stdlib only, started with ``python -I -S``).

Used only when bubblewrap is unavailable and the user accepted unsafe execution (sandbox.py); under
bubblewrap, util-linux ``prlimit`` sets the same limits inside the sandbox.
    launch.py "{'RLIMIT_CPU': 20, ...}" -- CMD ARGS...
"""
import ast
import os
import resource
import sys

SETUP_FAILED = 125  # exit status when the limits could not be set


def main() -> None:
    try:
        for name, value in ast.literal_eval(sys.argv[1]).items():
            resource.setrlimit(getattr(resource, name), (value, value))
        os.umask(0o002)
        cmd = sys.argv[3:]
        os.execve(cmd[0], cmd, os.environ)  # the parent resolved cmd[0] to a full path
    except Exception as e:  # noqa: BLE001  (anything here is the launcher's fault, not the program's)
        sys.stderr.write(f"mmx sandbox: setup failed: {e}\n")
        os._exit(SETUP_FAILED)


if __name__ == "__main__":
    main()
