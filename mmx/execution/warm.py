"""Warm sandboxes: one long-lived bubblewrap sandbox per worker slot, with a zygote inside that starts each
program of the slot (mmx/execution/zygote.py says what happens per program inside).

The one-sandbox-per-program path (sandbox.run's default before) pays, per program, a bubblewrap set-up
(namespaces, ~30 mounts), four execs (bwrap, sh, prlimit, setpriv) and a Python start-up that imports the
harness's modules again: about 12 ms + 26 ms of CPU. Here a slot's sandbox is set up once; per program the
zygote forks a child that drops to the slot uid, builds a fresh /tmp/work and runs the program (Python:
in the already-started interpreter). Between two programs of a slot nothing survives: every process of
the sandbox is killed (pid namespace: kill(-1)), /tmp and /dev/shm are emptied, SysV IPC objects removed,
the uid's keyring cleared; programs of a slot run one at a time, and slots have distinct uids and sandboxes.

Applies as root (the zygote must drop to the slot uid; without root there is one uid only) with no shared
binds; elsewhere, or with MMX_WARM_SANDBOX=0, sandbox.run keeps one sandbox per program. A zygote that
dies, hangs or reports an unclean wipe costs a restart of its slot's sandbox, never another program.
Sandboxes are started from one long-lived thread, so bubblewrap's --die-with-parent (which watches the
starting thread) ends them exactly when mmx ends, even on SIGKILL.
"""
from __future__ import annotations

import atexit
import json
import os
import queue
import selectors
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

ZYGOTE = Path(__file__).with_name("zygote.py")
CHUNK = 1 << 15  # request socket messages (SOCK_SEQPACKET keeps them whole)
START_TIMEOUT = 30.0
GRACE = 30.0  # seconds past a program's deadline before mmx stops waiting for its zygote (set-up: 20 s)

_SLOTS: dict[int, "Slot"] = {}
_SLOTS_LOCK = threading.Lock()
_BROKEN: str | None = None  # why warm sandboxes cannot start here (then: one sandbox per program)


def enabled() -> bool:
    return os.environ.get("MMX_WARM_SANDBOX", "1") != "0" and _BROKEN is None


# ---- a thread that outlives the worker threads: bwrap --die-with-parent watches the thread that started it

_SPAWN: queue.Queue = queue.Queue()
_SPAWNER: threading.Thread | None = None


def _spawner() -> None:
    while True:
        fn, box, done = _SPAWN.get()
        try:
            box.append(fn())
        except BaseException as e:  # noqa: BLE001  (handed to the caller)
            box.append(e)
        done.set()


def _spawn(fn):
    global _SPAWNER
    with _SLOTS_LOCK:
        if _SPAWNER is None or not _SPAWNER.is_alive():
            _SPAWNER = threading.Thread(target=_spawner, name="mmx-sandbox-spawner", daemon=True)
            _SPAWNER.start()
    box: list = []
    done = threading.Event()
    _SPAWN.put((fn, box, done))
    done.wait()
    if isinstance(box[0], BaseException):
        raise box[0]
    return box[0]


class SlotError(RuntimeError):
    """The slot's sandbox failed (not the program): restart it."""


class Slot:
    def __init__(self, bwrap: str, uid: int, python: str):
        self.bwrap, self.uid, self.python = bwrap, uid, python
        self.lock = threading.Lock()
        self.proc: subprocess.Popen | None = None
        self.ctl = self.req = None
        self.n = 0

    # -- life cycle
    def start(self) -> None:
        from mmx.execution.sandbox import BASE_ENV, _bwrap_base

        ctl_h, ctl_z = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        req_h, req_z = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        argv = _bwrap_base(self.bwrap, [], {}, self.uid, extra_caps=["CAP_KILL"]) + [
            "--chdir", "/", "--", self.python, "-I", "-c", ZYGOTE.read_text(), str(self.uid),
            str(ctl_z.fileno()), str(req_z.fileno())]
        try:
            self.proc = _spawn(lambda: subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=BASE_ENV,
                start_new_session=True, pass_fds=(ctl_z.fileno(), req_z.fileno())))
        finally:
            ctl_z.close()
            req_z.close()
        ctl_h.settimeout(START_TIMEOUT)  # a send can block only on a stuck zygote: then fail, never hang
        req_h.settimeout(START_TIMEOUT)
        self.ctl, self.req = ctl_h, req_h
        if not select_one(ctl_h, START_TIMEOUT):
            self.stop()
            raise SlotError("the zygote did not start within %ds" % START_TIMEOUT)
        m = ctl_h.recv(4096)
        hello = json.loads(m) if m else {}
        if not hello.get("ready"):
            why = self.stderr_tail()
            self.stop()
            raise SlotError(f"the warm sandbox did not start: {why or 'no reply'}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stderr_tail(self) -> str:
        if self.proc is None or self.proc.stderr is None:
            return ""
        os.set_blocking(self.proc.stderr.fileno(), False)
        try:
            return (self.proc.stderr.read() or b"").decode("utf-8", "replace")[-500:].strip()
        except OSError:
            return ""

    def stop(self) -> None:
        for s in (self.ctl, self.req):
            if s is not None:
                s.close()
        self.ctl = self.req = None
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)  # bwrap; the pid namespace takes everything with it
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait()
            if self.proc.stderr is not None:
                self.proc.stderr.close()
            self.proc = None

    # -- one program
    def run(self, files: list, argv: list[str], env: dict, lim, inproc: bool):
        from mmx.execution.sandbox import Result

        with self.lock:
            if not self.alive():
                self.stop()
                self.start()
            self.n += 1
            rid = self.n
            outs: tuple[list, list] = ([], [])
            sizes = [0, 0]
            out_r, out_w = os.pipe()
            err_r, err_w = os.pipe()
            t0 = time.monotonic()
            try:
                body = json.dumps({"id": rid, "files": files, "argv": argv, "env": env, "inproc": inproc,
                                   "rlimits": lim_rlimits(lim)}).encode()
                self.ctl.send(b"R" + json.dumps([rid, lim.timeout]).encode())
                first = b"%16d" % len(body) + body[:CHUNK]
                socket.send_fds(self.req, [first], [out_w, err_w])
                for i in range(CHUNK, len(body), CHUNK):
                    self.req.sendall(body[i:i + CHUNK])
            except OSError as e:
                for fd in (out_r, out_w, err_r, err_w):
                    os.close(fd)
                self.stop()
                return Result("sandbox_error", None, "", f"warm sandbox: could not send the program: {e}", 0.0)
            os.close(out_w)
            os.close(err_w)
            sel = selectors.DefaultSelector()
            sel.register(out_r, selectors.EVENT_READ, 0)
            sel.register(err_r, selectors.EVENT_READ, 1)
            sel.register(self.ctl, selectors.EVENT_READ, "ctl")
            sel.register(self.req, selectors.EVENT_READ, "req")
            reply, started, setup_err, over, open_pipes = None, None, "", False, 2
            deadline = t0 + lim.timeout + GRACE
            try:
                while reply is None or open_pipes:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    for key, _ in sel.select(min(left, 1.0)):
                        if key.data == "ctl":
                            m = self.ctl.recv(4096)
                            if not m:
                                raise SlotError("the zygote died")
                            reply = json.loads(m)
                            sel.unregister(self.ctl)
                            deadline = min(deadline, time.monotonic() + 2.0)  # the pipes close next
                        elif key.data == "req":
                            m = self.req.recv(4096)
                            started, setup_err = m == b"1", m[1:].decode("utf-8", "replace")
                            sel.unregister(self.req)
                        else:
                            chunk = os.read(key.fd, 1 << 16)
                            i = key.data
                            if not chunk:
                                sel.unregister(key.fd)
                                open_pipes -= 1
                                continue
                            if sizes[i] < lim.output:
                                outs[i].append(chunk[: lim.output - sizes[i]])
                            sizes[i] += len(chunk)
                            if sizes[i] > lim.output and not over:
                                over = True
                                self.ctl.send(b"K%d" % rid)
                if reply is None or open_pipes or reply.get("id") != rid or not reply.get("clean"):
                    raise SlotError("the zygote did not finish the program cleanly")
            except (SlotError, OSError, ValueError) as e:
                self.stop()  # the next program gets a fresh sandbox
                reply = {"rc": None, "timeout": time.monotonic() - t0 > lim.timeout, "error": str(e)}
            finally:
                sel.close()
                os.close(out_r)
                os.close(err_r)
            dec = lambda parts: b"".join(parts).decode("utf-8", "replace")  # noqa: E731
            err = dec(outs[1])
            rc = reply.get("rc")
            if over:
                status = "output_limit"
            elif reply.get("timeout"):
                status = "timeout"
            elif started is not True:
                status = "sandbox_error"
                err = f"warm sandbox: setup failed: {setup_err or reply.get('error', '')}".strip()
            elif "error" in reply:
                status = "sandbox_error"
                err = (err + f"\nwarm sandbox: {reply['error']}").strip()
            else:
                status = "ok" if rc == 0 else "error"
            return Result(status, rc, dec(outs[0]), err, round(time.monotonic() - t0, 4),
                          {"sandbox": "warm", "zygote_ms": reply.get("ms")})


def select_one(sock: socket.socket, timeout: float) -> bool:
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ)
    try:
        return bool(sel.select(timeout))
    finally:
        sel.close()


def lim_rlimits(lim) -> dict[str, int]:
    from mmx.execution.sandbox import rlimit_names

    rl = rlimit_names(lim)
    rl["RLIMIT_MSGQUEUE"] = 0  # POSIX message queues would outlive the program in the slot's ipc namespace
    return rl


def slot(index: int, bwrap: str, uid: int) -> Slot:
    with _SLOTS_LOCK:
        s = _SLOTS.get(index)
        if s is None or s.uid != uid:
            python = os.path.realpath(shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin") or "")
            if not python:
                raise SlotError("python3 is not installed (the zygote needs it)")
            if not _SLOTS:  # registered after sandbox.py's lease release, so it runs before it
                atexit.register(close_all)
            s = _SLOTS[index] = Slot(bwrap, uid, python)
        return s


def run(files: list, exe: str, args: list[str], env: dict, lim, index: int, bwrap: str, uid: int,
        python_script: bool):
    """Run in slot ``index``'s warm sandbox; None when warm sandboxes cannot start here (then the caller
    runs the program in a sandbox of its own)."""
    global _BROKEN
    try:
        s = slot(index, bwrap, uid)
        inproc = python_script and os.path.realpath(exe) == s.python and bool(args) and not args[0].startswith("-")
        r = s.run(files, [exe, *args], env, lim, inproc)
        if r.status == "sandbox_error":  # the slot's sandbox failed, not the program: once more, fresh
            s.stop()
            r = s.run(files, [exe, *args], env, lim, inproc)
        return r
    except (SlotError, OSError) as e:
        if not any(x.alive() for x in list(_SLOTS.values())):
            _BROKEN = str(e)  # it never worked here: stop trying
        return None


def close_all() -> None:
    """Stop every warm sandbox of this process (at exit; also usable by tests)."""
    with _SLOTS_LOCK:
        for s in _SLOTS.values():
            s.stop()
        _SLOTS.clear()


def _after_fork() -> None:  # a forked mmx process must not share its parent's sandboxes
    global _SPAWNER
    for s in _SLOTS.values():
        for sock in (s.ctl, s.req):
            if sock is not None:
                sock.close()
    _SLOTS.clear()
    _SPAWNER = None


os.register_at_fork(after_in_child=_after_fork)
