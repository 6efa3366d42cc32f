"""Hostile programs against the bubblewrap sandbox: after each, nothing of it is left on the host.

Every program carries a unique marker in its argv (so its processes can be found in the host's /proc) and
in the names of the files it tries to leave behind (so they can be found in every world-writable host folder).
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest

from mmx.errors import MmxError
from mmx.execution import sandbox
from mmx.execution.sandbox import Limits, run

ROOT = os.geteuid() == 0
needs_bwrap = pytest.mark.skipif(not sandbox.isolation_available(),
                                 reason=f"bubblewrap does not work here: {sandbox.isolation().get('reason')}")
pytestmark = needs_bwrap


def marker() -> str:
    return f"mmxhostile{uuid.uuid4().hex[:12]}"


def host_processes(mark: str) -> list[int]:
    """Pids of the host whose command line holds ``mark``."""
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) != os.getpid():
            try:
                if mark.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                    found.append(int(pid))
            except OSError:
                pass
    return found


def writable_host_dirs() -> list[str]:
    """World-writable folders of this host (sticky /tmp-like ones included), two levels deep."""
    out = {tempfile.gettempdir()}
    for top in ("/tmp", "/var/tmp", "/dev/shm", "/run", "/var", "/dev/mqueue", "/srv", "/opt", "/home", "/mnt",
                "/work"):
        for depth, (root, dirs, _) in enumerate(os.walk(top)):
            if os.stat(root).st_mode & 0o002:
                out.add(root)
            if root.count("/") - top.count("/") >= 1:
                dirs[:] = []
            if depth > 400:
                break
    return sorted(out)


def leftovers(mark: str, dirs: list[str]) -> list[str]:
    return [str(p) for d in dirs for p in Path(d).glob(f"*{mark}*")]


def assert_clean(mark: str, dirs: list[str], within: float = 5.0) -> None:
    """No process of the program on the host (waiting up to ``within`` s), no file it wrote."""
    end = time.time() + within
    while host_processes(mark) and time.time() < end:
        time.sleep(0.05)
    assert host_processes(mark) == [], f"processes of {mark} left on the host"
    assert leftovers(mark, dirs) == []


def py(src: str, mark: str, tmp_path: Path, **limits) -> sandbox.Result:
    (tmp_path / "prog.py").write_text(textwrap.dedent(src))
    return run(["python3", "prog.py", mark], tmp_path, Limits(**{"timeout": 5, **limits}))


@pytest.fixture(scope="module")
def host_dirs():
    return writable_host_dirs()


def test_host_unix_sockets_path_and_abstract_are_unreachable(tmp_path, host_dirs):
    mark = marker()
    # a path socket anyone may connect to, in a folder anyone may enter, outside /tmp; and an abstract one
    sock_dir = Path(tempfile.mkdtemp(prefix="mmx-sock-", dir="/run" if ROOT else None))
    sock_dir.chmod(0o777)
    path_srv = socket.socket(socket.AF_UNIX)
    path_srv.bind(str(sock_dir / "s"))
    os.chmod(sock_dir / "s", 0o777)
    abs_srv = socket.socket(socket.AF_UNIX)
    abs_srv.bind(f"\0{mark}")
    got = []
    for s in (path_srv, abs_srv):
        s.listen(5)
        s.settimeout(4)
        threading.Thread(target=lambda s=s: got.append(_accept(s)), daemon=True).start()
    try:
        r = py(f"""
            import socket, sys
            for addr in ({str(sock_dir / 's')!r}, "\\0" + sys.argv[1]):
                c = socket.socket(socket.AF_UNIX)
                try:
                    c.connect(addr); c.sendall(b"hello"); print("CONNECTED", repr(addr))
                except OSError as e:
                    print("REFUSED", repr(addr), e)
            """, mark, tmp_path)
        time.sleep(0.3)
        assert r.status == "ok", r.stderr
        assert "CONNECTED" not in r.stdout and r.stdout.count("REFUSED") == 2
        assert [g for g in got if g] == []  # no connection arrived
    finally:
        path_srv.close()
        abs_srv.close()
        (sock_dir / "s").unlink()
        sock_dir.rmdir()
    assert_clean(mark, host_dirs)


def _accept(s):
    try:
        return s.accept()
    except OSError:
        return None


WRITER = """
    import json, os, sys
    mark, dirs = sys.argv[1], json.loads(open("dirs.json").read())
    dirs += [os.path.dirname(os.getcwd()), "/tmp", "/var/tmp", "/dev/shm", os.path.expanduser("~")]
    wrote = []
    for d in dirs:
        try:
            with open(os.path.join(d, mark), "w") as f:
                f.write("secret")
            wrote.append(d)
        except OSError:
            pass
    print(json.dumps(wrote))
    """

READER = """
    import json, os, sys
    mark, dirs = sys.argv[1], json.loads(open("dirs.json").read())
    dirs += [os.path.dirname(os.getcwd()), "/tmp", "/var/tmp", "/dev/shm"]
    print(json.dumps([d for d in dirs if os.path.exists(os.path.join(d, mark))]))
    """


def test_files_written_to_world_writable_host_folders_neither_persist_nor_reach_the_next_program(tmp_path,
                                                                                                  host_dirs):
    mark = marker()
    (tmp_path / "dirs.json").write_text(json.dumps(host_dirs))
    w = py(WRITER, mark, tmp_path)
    assert w.status == "ok", w.stderr
    assert leftovers(mark, host_dirs) == []  # whatever it managed inside, nothing on the host
    r = py(READER, mark, tmp_path)
    assert r.status == "ok", r.stderr
    assert json.loads(r.stdout) == []  # and a later program finds nothing either
    sh = run(["sh", "-c", 'for d in $(cat dirs.txt) /tmp /var/tmp /dev/shm; do echo x > "$d/$0"; done; true', mark],
             _with(tmp_path, "dirs.txt", "\n".join(host_dirs)))
    assert sh.status == "ok"
    assert_clean(mark, host_dirs)


def _with(d: Path, name: str, text: str) -> Path:
    (d / name).write_text(text)
    return d


def test_proc_shows_no_host_process_nor_a_secret_on_a_host_command_line(tmp_path, host_dirs):
    mark, secret = marker(), f"sk-{uuid.uuid4().hex}"
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", f"--api-key={secret}"])
    try:
        r = py("""
            import os
            pids = [p for p in os.listdir("/proc") if p.isdigit()]
            lines = []
            for p in pids:
                try:
                    lines.append(open(f"/proc/{p}/cmdline", "rb").read().replace(b"\\0", b" ").decode())
                except OSError:
                    pass
            print(len(pids)); print("\\n".join(lines))
            """, mark, tmp_path)
        assert r.status == "ok", r.stderr
        assert secret not in r.stdout  # a key on a host command line stays on the host
        assert int(r.stdout.split("\n")[0]) <= 3  # bwrap's pid-1 reaper and the program: nothing of the host
    finally:
        holder.kill()
        holder.wait()
    assert_clean(mark, host_dirs)


def test_no_network_even_to_a_loopback_server_of_the_host(tmp_path, host_dirs):
    mark = marker()
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(5)
    srv.settimeout(3)
    got = []
    t = threading.Thread(target=lambda: got.append(_accept(srv)))
    t.start()
    r = py(f"""
        import socket
        for host in ("127.0.0.1", "1.1.1.1"):
            try:
                socket.create_connection((host, {srv.getsockname()[1]}), timeout=2); print("connected", host)
            except OSError as e:
                print("no network", host, e)
        """, mark, tmp_path)
    t.join()
    srv.close()
    assert [g for g in got if g] == []
    assert r.status == "ok" and "connected" not in r.stdout and r.stdout.count("no network") == 2
    assert_clean(mark, host_dirs)


HOSTILE = {
    "fork_bomb": ("""
        import os, time
        while True:
            try:
                if os.fork() == 0:
                    time.sleep(1000)
            except OSError:
                print("fork refused", flush=True)
                time.sleep(1000)
        """, {"nproc": 64, "timeout": 2}, ("timeout",)),
    "memory_bomb": ("""
        chunks = []
        while True:
            chunks.append(bytearray(64 << 20))
        """, {"memory": 512 << 20}, ("error",)),
    "output_flood": ("""
        import os
        block = b"x" * (1 << 20)
        while True:
            os.write(1, block)
        """, {}, ("output_limit",)),
    "kill_the_parent": ("""
        import os, signal, time
        for pid in (os.getppid(), 1, -1):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError as e:
                print("refused", pid, e)
        time.sleep(1000)
        """, {"timeout": 2}, ("timeout",)),
    "daemonise": ("""
        import os, sys, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.closerange(0, 3)
                time.sleep(1000)
            os._exit(0)
        time.sleep(0.3)
        print("daemon started")
        """, {}, ("ok",)),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_program_leaves_nothing_behind(name, tmp_path, host_dirs):
    src, limits, statuses = HOSTILE[name]
    mark = marker()
    t0 = time.time()
    r = py(src, mark, tmp_path, **limits)
    assert r.status in statuses, (r.status, r.stderr[-500:])
    assert time.time() - t0 < 15
    assert_clean(mark, host_dirs)


def test_shell_that_kills_everything_it_can_and_daemonises(tmp_path, host_dirs):
    mark = marker()
    r = run(["sh", "-c", f'(setsid sh -c "sleep 1000; : {mark}" &) ; kill -9 -1; sleep 1000', mark], tmp_path,
            Limits(timeout=2))
    assert r.status in ("error", "timeout")
    assert_clean(mark, host_dirs)


SLEEPER = "import time\ntime.sleep(1000)\n"
DAEMON = """
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(1000)
    os._exit(0)
time.sleep(1000)
"""
MMX_LIKE = """
import sys, threading, time
from mmx.execution import sandbox
mark, work = sys.argv[1], sys.argv[2]
for i, prog in enumerate(["sleeper.py", "daemon.py"]):
    threading.Thread(target=sandbox.run, args=(["python3", prog, mark], work, sandbox.Limits(timeout=1000)),
                     kwargs={"slot": i}, daemon=True).start()
time.sleep(1000)
"""


def test_sigkill_of_the_mmx_process_leaves_nothing_five_seconds_later(tmp_path, host_dirs):
    mark = marker()
    (tmp_path / "sleeper.py").write_text(SLEEPER)
    (tmp_path / "daemon.py").write_text(DAEMON)
    parent = subprocess.Popen([sys.executable, "-c", MMX_LIKE, mark, str(tmp_path)])
    try:
        # the two programs and the daemon (one sandbox per program adds bwrap and its pid 1 for each)
        end = time.time() + 15
        while len(host_processes(mark)) < 3 and time.time() < end:
            time.sleep(0.05)
        assert len(host_processes(mark)) >= 3, "the programs did not start"  # two programs and the daemon
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    assert_clean(mark, host_dirs, within=5.0)


LEASER = """
import json, sys
from mmx.execution import sandbox
print(json.dumps([sandbox.sandbox_uid(s) for s in range(4)]), flush=True)
sys.stdin.read()  # hold the leases until the test closes stdin
"""

# Starts LEASER in a process whose pid is congruent to a given pid modulo 4096 (where uids used to collide)
SAME_PID_CLASS = """
import os, sys
target, argv = int(sys.argv[1]), sys.argv[2:]
for _ in range(3 * 4096):
    pid = os.fork()
    if pid == 0:
        if os.getpid() % 4096 == target:
            os.execv(argv[0], argv)
        os._exit(0)
    os.waitpid(pid, 0)
    if pid % 4096 == target:
        sys.exit(0)
sys.exit(3)
"""


@pytest.mark.skipif(not ROOT, reason="per-worker sandbox uids exist only as root")
def test_two_mmx_processes_never_share_a_sandbox_uid_even_with_pids_4096_apart():
    a = subprocess.Popen([sys.executable, "-c", LEASER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    b = subprocess.Popen([sys.executable, "-c", SAME_PID_CLASS, str(a.pid % 4096), sys.executable, "-c", LEASER],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        uids_a = json.loads(a.stdout.readline())
        line = b.stdout.readline()
        if not line:
            pytest.skip("could not get a process with a pid congruent modulo 4096 (pids are not sequential here)")
        uids_b = json.loads(line)
    finally:
        for p in (a, b):
            p.stdin.close()
            p.wait(timeout=30)
    assert len(set(uids_a)) == 4 and len(set(uids_b)) == 4
    assert set(uids_a).isdisjoint(uids_b)
    assert all(u >= 1000 for u in uids_a + uids_b)


@pytest.mark.skipif(not ROOT, reason="per-worker sandbox uids exist only as root")
def test_concurrent_workers_run_as_distinct_unprivileged_uids():
    from mmx.execution import EXECUTORS, execute_many

    res = execute_many([(EXECUTORS["python"], "import os, time; print(os.getuid()); time.sleep(0.3)")] * 4, workers=4)
    uids = [int(r.stdout) for r in res]
    assert len(set(uids)) == 4 and all(u >= 1000 for u in uids)


def test_isolation_is_reported_and_required():
    iso = sandbox.isolation()
    assert iso["tool"] == "bubblewrap" and iso["version"] and {"pid", "net", "mount"} <= set(iso["namespaces"])
    assert sandbox.require_isolation(False) == iso


def test_without_isolation_programs_are_refused_unless_the_user_accepts(monkeypatch, tmp_path):
    monkeypatch.setattr(sandbox, "_ISOLATION", {"tool": "none", "reason": "bwrap not installed"})
    monkeypatch.setattr(sandbox, "_ALLOW_UNSAFE", False)
    (tmp_path / "p.py").write_text("print('ran')")
    r = run(["python3", "p.py"], tmp_path)
    assert r.status == "sandbox_error" and "ran" not in r.stdout
    with pytest.raises(MmxError, match="(?s)apt-get install bubblewrap.*--allow-unsafe-execution"):
        sandbox.require_isolation(False)
    got = sandbox.require_isolation(True)
    assert got["tool"] == "none" and got["unsafe"] is True
    assert run(["python3", "p.py"], tmp_path).stdout.strip() == "ran"


def test_a_program_cannot_pass_itself_off_as_a_sandbox_failure(tmp_path):
    r = run(["sh", "-c", "echo 'bwrap: setup failed' >&2; exit 1"], tmp_path)
    assert r.status == "error"
    bad = run(["true"], tmp_path, binds={"cache": str(tmp_path / "does-not-exist")})
    assert bad.status == "sandbox_error"


@pytest.mark.skipif(not ROOT, reason="creating the unprivileged run needs root (su)")
def test_smoke_as_an_unprivileged_user():
    # the system python (the venv's may live under /root); mmx's sandbox needs only the standard library
    code = ("import json, os, shutil, sys, tempfile; sys.path.insert(0, %r)\n"
            "from mmx.execution import sandbox\n"
            "iso = sandbox.isolation()\n"
            "d = tempfile.mkdtemp(); open(os.path.join(d, 'p.py'), 'w').write("
            "'import os; print(os.getuid(), len([p for p in os.listdir(\"/proc\") if p.isdigit()]))')\n"
            "r = sandbox.run(['python3', 'p.py'], d)\n"
            "shutil.rmtree(d)\n"
            "print(json.dumps({'iso': iso, 'status': r.status, 'out': r.stdout, 'err': r.stderr}))\n"
            ) % str(Path(__file__).resolve().parents[1])
    python = shutil.which("python3", path="/usr/bin:/bin") or sys.executable
    here = Path(tempfile.mkdtemp(prefix="mmx-smoke-"))
    try:
        here.chmod(0o755)
        (here / "smoke.py").write_text(code)
        (here / "smoke.py").chmod(0o644)
        p = subprocess.run(["su", "nobody", "-s", "/bin/sh", "-c", f"cd / && {python} -I {here}/smoke.py"],
                           capture_output=True, text=True, timeout=60)
    finally:
        shutil.rmtree(here, ignore_errors=True)
    if p.returncode != 0 and ("Permission denied" in p.stderr or "No module named" in p.stderr):
        pytest.skip(f"the unprivileged user cannot read mmx here: {p.stderr[-300:]}")
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["iso"]["tool"] == "bubblewrap" and out["iso"]["as_root"] is False, out
    assert out["status"] == "ok", out
    uid, nprocs = map(int, out["out"].split())
    assert uid == 65534 and nprocs <= 3  # nobody, and no host process in its /proc
