"""The sandbox against hostile programs; the harness must survive every one of them."""
import os
import socket
import threading
import time

import pytest

from mmx.execution import EXECUTORS, execute_many, isolation_available
from mmx.execution.sandbox import Limits, run
from mmx.execution.executors import with_limits

PY = EXECUTORS["python"]
needs_isolation = pytest.mark.skipif(not isolation_available(),
                                     reason="bubblewrap does not work here (apt-get install bubblewrap)")


def py(src: str, **limits):
    ex = with_limits(PY, **limits) if limits else PY
    return ex.execute(src)


def test_a_normal_program_passes_and_a_failing_one_fails():
    assert py("print(1 + 1)").status == "ok"
    r = py("assert 1 == 2, 'nope'")
    assert r.status == "error" and "AssertionError: nope" in r.stderr


def test_sleep_forever_is_killed_at_the_wall_clock_limit():
    t0 = time.time()
    r = py("import time\nwhile True: time.sleep(1)", timeout=1.5)
    assert r.status == "timeout" and not r.ok
    assert time.time() - t0 < 6


def test_cpu_limit_stops_a_busy_loop():
    r = py("while True: pass", cpu=1, timeout=20)
    assert not r.ok and r.seconds < 10


def test_allocating_10_gb_fails_inside_the_program():
    r = py("x = bytearray(10 * 1024**3)\nprint('allocated')")
    assert not r.ok and "allocated" not in r.stdout and "MemoryError" in r.stderr


def test_printing_1_gb_is_cut_at_the_output_cap():
    t0 = time.time()
    r = py("import sys\nblock = 'x' * (1 << 20)\nfor _ in range(1024): sys.stdout.write(block)")
    assert r.status == "output_limit"
    assert len(r.stdout) <= Limits().output
    assert time.time() - t0 < 20


def test_big_file_writes_stop_at_the_file_size_limit():
    r = py("open('big', 'wb').write(b'x' * (200 << 20))", fsize=1 << 20)
    assert not r.ok


@needs_isolation
def test_fork_bomb_is_contained_by_the_process_limit():
    src = ("import os\nn = 0\nwhile True:\n    try:\n        os.fork(); n += 1\n"
           "    except OSError:\n        print('fork refused'); break\n")
    r = py(src, timeout=10, nproc=64)
    assert "fork refused" in r.stdout
    time.sleep(0.2)
    from mmx.execution.sandbox import sandbox_uid
    left = [p for p in os.listdir("/proc") if p.isdigit() and _uid(p) == sandbox_uid(0)]
    assert left == []  # every child was killed
    assert py("print('still fine')").stdout.strip() == "still fine"


def _uid(pid):
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except FileNotFoundError:
        return None


@needs_isolation
def test_writing_outside_its_directory_does_not_reach_the_host(tmp_path):
    target = tmp_path / "escaped.txt"
    r = py(f"open({str(target)!r}, 'w').write('x')\n"
           "open('/tmp/escaped.txt', 'w').write('x')\n"  # /tmp is a private tmpfs inside
           "open('inside.txt', 'w').write('ok')\nprint('wrote')")
    assert not target.exists()
    assert not os.path.exists("/tmp/escaped.txt") or os.path.getmtime("/tmp/escaped.txt") < time.time() - 60
    assert "PermissionError" in r.stderr or "No such file" in r.stderr
    r2 = py("open('/work/escape-test', 'w')")
    assert not r2.ok and not os.path.exists("/work/escape-test")


@needs_isolation
def test_no_network_even_to_a_server_on_this_machine():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(5)
    srv.settimeout(3)
    port = srv.getsockname()[1]
    got = []

    def accept():
        try:
            got.append(srv.accept())
        except OSError:
            pass

    t = threading.Thread(target=accept)
    t.start()
    r = py(f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=2)\nprint('connected')\n")
    r2 = py("import socket\nsocket.create_connection(('1.1.1.1', 80), timeout=2)\nprint('connected')\n")
    t.join()
    srv.close()
    assert got == []  # the host's server never saw the program
    assert not r.ok and "connected" not in r.stdout
    assert not r2.ok and "connected" not in r2.stdout


def test_programs_run_in_parallel():
    jobs = [(PY, "import time; time.sleep(1)")] * 4
    t0 = time.time()
    res = execute_many(jobs, workers=4)
    assert all(r.ok for r in res)
    assert time.time() - t0 < 3.5  # serial would take 4 s


def test_missing_command_is_a_sandbox_error_not_a_program_failure(tmp_path):
    r = run(["no-such-interpreter-mmx"], tmp_path)
    assert r.status == "sandbox_error" and "not installed" in r.stderr
