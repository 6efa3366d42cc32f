"""Warm sandboxes (mmx/execution/warm.py + zygote.py): programs of one slot run one after another in the same
long-lived bubblewrap sandbox, yet none may see what an earlier one left, and a broken zygote costs only a
restart of its slot."""
import os
import signal
import time

import pytest

from mmx.execution import EXECUTORS, sandbox, warm
from mmx.execution.sandbox import Limits, run_files

ROOT = os.geteuid() == 0
pytestmark = pytest.mark.skipif(not (ROOT and sandbox.isolation_available() and warm.enabled()),
                                reason="warm sandboxes need root and a working bubblewrap")
SLOT = 7  # a slot of its own, so these tests do not disturb the others'


def py(src: str, inproc: bool = True, **limits) -> sandbox.Result:
    return run_files(["python3", "prog.py"], {"prog.py": src}, Limits(**{"timeout": 10, **limits}), slot=SLOT,
                     python_script=inproc)


@pytest.mark.parametrize("inproc", [True, False])
def test_a_program_finds_nothing_of_the_previous_one(inproc):
    first = py("""
import ctypes, os, time
for d in ("/tmp", "/dev/shm", "/tmp/work"):
    open(os.path.join(d, "left-behind"), "w").write("secret")
os.makedirs("/tmp/deep/er"); os.chmod("/tmp/deep", 0)
libc = ctypes.CDLL(None)
print("shm", libc.shmget(0x4d4d58, 4096, 0o1666))  # IPC_CREAT | 0666: a SysV segment outlives processes
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(1000)  # a daemon
    os._exit(0)
time.sleep(0.2)
print("done", os.getpid())
""", inproc)
    assert first.status == "ok", first.stderr
    assert first.extra.get("sandbox") == "warm"
    uid = sandbox.sandbox_uid(SLOT)
    assert [p for p in os.listdir("/proc") if p.isdigit() and _uid(p) == uid] == []  # the daemon is gone
    second = py("""
import os
left = [os.path.join(d, n) for d in ("/tmp", "/dev/shm", "/tmp/work") for n in os.listdir(d)]
procs = [p for p in os.listdir("/proc") if p.isdigit()]
mine = [p for p in procs if os.stat("/proc/" + p).st_uid == os.getuid()]
print(sorted(left)); print(len(mine)); print(open("/proc/sysvipc/shm").read().count("\\n"))
""", inproc)
    assert second.status == "ok", second.stderr
    files, mine, shm_lines = second.stdout.split("\n")[:3]
    assert files == "['/tmp/work', '/tmp/work/prog.py']"  # a fresh work folder, nothing else in /tmp, /dev/shm
    assert mine == "1"  # only itself: no process of the previous program
    assert shm_lines == "1"  # the header only: the segment was removed


def _uid(pid):
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except FileNotFoundError:
        return None


def test_a_program_cannot_reach_its_zygote_and_a_dead_zygote_costs_a_restart():
    r = py("""
import os, signal
for p in os.listdir("/proc"):
    if p.isdigit() and int(p) != os.getpid():
        try:
            os.kill(int(p), signal.SIGKILL); print("killed", p)
        except OSError:
            pass
""")
    assert r.status == "ok" and "killed" not in r.stdout  # it cannot signal the zygote nor bwrap's pid 1
    slot = warm._SLOTS[SLOT]
    before = slot.proc.pid
    zygotes = [p for p in _descendants(before) if _cmdline(p).startswith(slot.python.encode() + b"\0")]
    assert len(zygotes) == 1
    os.kill(zygotes[0], signal.SIGKILL)  # as if a program had managed it
    time.sleep(0.2)
    after = py("print('fine')")
    assert after.status == "ok" and after.stdout.strip() == "fine"
    assert warm._SLOTS[SLOT].proc.pid != before  # the slot's sandbox was restarted


def _cmdline(pid: int) -> bytes:
    try:
        return open(f"/proc/{pid}/cmdline", "rb").read()
    except OSError:
        return b""


def _descendants(root: int) -> list[int]:
    parent = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                parent[int(p)] = int(open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                pass
    out, todo = [], [root]
    while todo:
        x = todo.pop()
        kids = [p for p, pp in parent.items() if pp == x]
        out += kids
        todo += kids
    return out


def test_timeouts_and_output_caps_are_per_program():
    t0 = time.time()
    r = py("import time\nwhile True: time.sleep(1)", timeout=1)
    assert r.status == "timeout" and time.time() - t0 < 5
    flood = py("import os\nwhile True: os.write(1, b'x' * 65536)")
    assert flood.status == "output_limit"
    t0 = time.time()
    ok = py("print('next')")
    assert ok.status == "ok" and ok.stdout == "next\n" and time.time() - t0 < 3


def test_in_process_python_exits_like_the_interpreter():
    assert py("import sys; print('a', end=''); sys.exit(3)").returncode == 3
    r = py("raise ValueError('boom')")
    assert r.returncode == 1 and "ValueError: boom" in r.stderr
    assert r.stderr.splitlines()[:2] == ["Traceback (most recent call last):", '  File "/tmp/work/prog.py", line 1, '
                                         "in <module>"]  # the program's frames only, as `python3 prog.py`
    r = py("import atexit, threading, time\n"
           "atexit.register(lambda: print('at exit'))\n"
           "threading.Thread(target=lambda: (time.sleep(0.2), print('thread'))).start()\n")
    assert r.status == "ok" and r.stdout == "thread\nat exit\n"
    r = py("import os, sys; print(os.getcwd(), sys.argv, os.environ['HOME'], sys.path[0], __file__, __name__)")
    assert r.stdout.split() == ["/tmp/work", "['prog.py']", "/tmp/work", "/tmp/work", "/tmp/work/prog.py", "__main__"]


def test_the_python_harness_passes_and_fails_in_a_warm_sandbox():
    ex = EXECUTORS["python"]
    good = ex.program("def add(a, b):\n", "    return a + b\n", "def check(c):\n    assert c(1, 2) == 3\n", "add")
    bad = ex.program("def add(a, b):\n", "    return a - b\n", "def check(c):\n    assert c(1, 2) == 3\n", "add")
    cheat = ex.program("def add(a, b):\n", "    raise SystemExit(0)\n", "def check(c):\n    assert c(1, 2) == 3\n",
                       "add")
    assert ex.execute(good, slot=SLOT).status == "ok"
    assert ex.execute(bad, slot=SLOT).status == "error"
    assert ex.execute(cheat, slot=SLOT).status == "no_pass_token"


def test_one_sandbox_per_program_stays_available(monkeypatch):
    monkeypatch.setenv("MMX_WARM_SANDBOX", "0")
    r = py("import os; print(len([p for p in os.listdir('/proc') if p.isdigit()]))")
    assert r.status == "ok" and "sandbox" not in r.extra


def test_a_slot_that_cannot_start_leaves_its_program_to_a_sandbox_of_its_own(monkeypatch):
    """warm.run answers None when a slot cannot start, while other slots may still be alive (warm sandboxes
    stay on): the program then runs once in a sandbox of its own, not back into warm.run."""
    calls = []
    monkeypatch.setattr(warm, "run", lambda *a, **k: calls.append(1))
    r = py("print('ran')")
    assert r.status == "ok" and r.stdout.strip() == "ran" and "sandbox" not in r.extra
    assert len(calls) == 1
