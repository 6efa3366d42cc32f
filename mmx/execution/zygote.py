"""The zygote: a small pre-started Python that runs INSIDE one worker slot's long-lived bubblewrap sandbox and
starts each program of that slot (stdlib only; mmx/execution/warm.py starts it as
``python3 -I -c <this file> UID CTL_FD REQ_FD``).

Per program (serial within the slot), the zygote forks a child that
  1. drops to the slot's unprivileged uid (bounding set, ambient and inheritable capabilities cleared,
     groups cleared, no_new_privs; checked in /proc/self/status), joins a fresh session keyring,
  2. only then reads the program (files, argv, env, rlimits, and its own stdout/stderr pipes passed as file
     descriptors) from the request socket: the zygote itself never holds a program's data, so a later
     program forked from it finds nothing of an earlier one in its memory,
  3. builds a fresh work folder /tmp/work, sets the rlimits (RLIMIT_MSGQUEUE 0: no POSIX queues to leave
     behind), reports "set up" on the request socket, closes every other descriptor, and
  4. execs the command, or, for the Python executor, runs the script in this already-started interpreter
     (``inproc``: no interpreter start-up, the stdlib modules the harness imports are already loaded).
When the program's process exits, or at its deadline, or when mmx asks (output cap), the zygote, a child
subreaper holding CAP_KILL, SIGKILLs every process of the sandbox's pid namespace (``kill(-1)``: all are the
program's) and reaps them before it replies; a survivor ends the zygote, so mmx restarts the slot's sandbox.
The next program's child, once it is the slot uid and before it reads its program, empties /tmp and
/dev/shm, removes SysV IPC objects and clears the uid's user keyring (``scrub``; if anything is left its
set-up fails and mmx restarts the slot and runs the program again in a fresh sandbox). Programs run as a uid that cannot signal, trace or read the zygote (root).
Protocol (SOCK_SEQPACKET): ctl  mmx->zygote  b"R"+json{id, timeout} | b"K"+id (kill now);
zygote->mmx json{id, rc, timeout, clean, ms};  req  mmx->child  body (+ the two pipes) / child->mmx
b"1" (set up) or b"E"+reason.
"""
import ctypes
import errno
import json
import os
import resource
import select
import signal
import socket
import sys
import time

LIBC = ctypes.CDLL(None, use_errno=True)
PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_SET_CHILD_SUBREAPER, PR_CAP_AMBIENT = 24, 38, 36, 47
KEYCTL = {"x86_64": 250, "aarch64": 219, "ppc64le": 288, "s390x": 280}.get(os.uname().machine)
WORK = "/tmp/work"
SCRATCH = ("/tmp", "/dev/shm")
SETUP_FAILED = 125
SETUP_LIMIT = 20.0  # seconds for a program's set-up (scrub, files, privileges)
# What the pass-token harness imports before the completion runs (mmx/execution/harness.py PY_DRIVER),
# plus what HumanEval-style tests commonly import: loaded once here instead of once per program.
PRELOAD = ("ast", "threading", "types", "atexit", "io", "math", "re", "string", "collections", "itertools",
           "functools", "operator", "heapq", "copy", "random", "typing", "fractions", "decimal", "hashlib", "bisect",
           "statistics", "datetime", "json")


def _ok(r: int, what: str) -> None:
    if r != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")


def drop(uid: int) -> None:
    """Become ``uid`` with no capability left and no way to gain one."""
    for cap in range(64):
        if LIBC.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() != errno.EINVAL:
            _ok(-1, "drop the bounding set")
    _ok(LIBC.prctl(PR_CAP_AMBIENT, 4, 0, 0, 0), "clear ambient capabilities")  # PR_CAP_AMBIENT_CLEAR_ALL
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    header, data = (ctypes.c_uint32 * 2)(0x20080522, 0), (ctypes.c_uint32 * 6)()  # _LINUX_CAPABILITY_VERSION_3
    _ok(LIBC.capset(header, data), "capset")
    _ok(LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    with open("/proc/self/status") as f:
        st = dict(line.split(":", 1) for line in f if ":" in line)
    if any(int(st[k], 16) for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")) or \
            st["Uid"].split() != [str(uid)] * 4 or st["Gid"].split() != [str(uid)] * 4 or st["Groups"].strip():
        raise OSError("privileges were not dropped")


def keyctl(*args: int) -> None:
    if KEYCTL is not None:  # best effort: a seccomp filter may refuse keyctl altogether, which is fine too
        LIBC.syscall(KEYCTL, *[ctypes.c_long(a) for a in args])


# ---- the child: one program ---------------------------------------------------------------------------

def recv_body(req: socket.socket) -> tuple[dict, list[int]]:
    msg, fds, _, _ = socket.recv_fds(req, 1 << 16, 8)
    size, buf = int(msg[:16]), [msg[16:]]
    got = len(buf[0])
    while got < size:
        part = req.recv(1 << 16)
        if not part:
            raise OSError("request cut short")
        buf.append(part)
        got += len(part)
    return json.loads(b"".join(buf)), fds


def build_work(files: list) -> None:
    os.mkdir(WORK, 0o777)
    for path, kind, mode, data in files:  # relative paths, made by mmx from its own work folder
        target = os.path.join(WORK, path)
        if kind == "dir":
            os.mkdir(target, 0o777)
        elif kind == "link":
            os.symlink(data, target)
        else:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            with open(fd, "wb") as f:
                f.write(data.encode("latin-1"))


def child(hid: int, uid: int, ctl: socket.socket, req: socket.socket, ready: int) -> None:
    try:
        ctl.close()
        os.setsid()
        drop(uid)
        scrub()  # what the previous program of the slot left (its processes are all dead by now)
        keyctl(1, 0)  # KEYCTL_JOIN_SESSION_KEYRING, anonymous: nothing shared with the zygote or the host
        msg, fds = recv_body(req)
        if msg["id"] != hid or len(fds) != 2:
            raise OSError("request out of step")
        os.umask(0)
        build_work(msg["files"])
        os.chdir(WORK)
        for name, value in msg["rlimits"].items():
            resource.setrlimit(getattr(resource, name), (value, value))
        null = os.open("/dev/null", os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(fds[0], 1)
        os.dup2(fds[1], 2)
        req.send(b"1")
        os.write(ready, b"1")  # the zygote starts the program's clock now: set-up time is not the program's
        fd = req.detach()
        os.closerange(3, fd)
        os.closerange(fd + 1, 1 << 16)
        os.close(fd)
    except BaseException as e:  # noqa: BLE001  (nothing of the program has run: a sandbox failure)
        try:
            req.send(b"E" + f"{type(e).__name__}: {e}".encode()[:2000])
        finally:
            os._exit(SETUP_FAILED)
    if msg["inproc"]:
        inproc(msg["argv"][1:], msg["env"])
    try:
        for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT):  # as a fresh exec would have them
            signal.signal(sig, signal.SIG_DFL)
        os.execve(msg["argv"][0], msg["argv"], msg["env"])
    except OSError as e:
        os.write(2, f"mmx sandbox: cannot run {msg['argv'][0]}: {e}\n".encode())
    os._exit(127)


def inproc(argv: list, env: dict) -> None:
    """``python3 SCRIPT ARGS`` in this interpreter: what CPython's main does, minus its start-up."""
    import atexit
    import builtins
    import threading
    import types

    import random

    os.environ.clear()
    os.environ.update(env)
    random.seed()  # a fresh interpreter's random state, not the one every fork inherits from the zygote
    atexit._clear()
    sys.argv = list(argv)
    sys.path.insert(0, WORK)  # the script's folder, as for `python3 SCRIPT`
    sys.dont_write_bytecode = True
    sys.stdin = sys.__stdin__ = open(0, encoding="utf-8", closefd=False)
    sys.stdout = sys.__stdout__ = open(1, "w", encoding="utf-8", closefd=False)
    sys.stderr = sys.__stderr__ = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False,
                                       buffering=1)
    code = 0
    try:
        path = os.path.abspath(argv[0])  # __main__.__file__ is absolute since Python 3.9; argv[0] as given
        with open(path, "rb") as f:
            source = f.read()
        main = types.ModuleType("__main__")
        main.__file__, main.__cached__, main.__builtins__ = path, None, builtins
        sys.modules["__main__"] = main
        exec(compile(source, path, "exec", dont_inherit=True), main.__dict__)
    except SystemExit as e:
        code = exit_code(e.code)
    except BaseException as e:  # noqa: BLE001  (an uncaught exception: print it as the interpreter would)
        tb = e.__traceback__.tb_next if e.__traceback__ is not None else None  # from the script's own frame
        try:
            sys.excepthook(type(e), e.with_traceback(tb), tb)
        except BaseException:  # noqa: BLE001
            pass
        code = 1
    try:
        threading._shutdown()  # join non-daemon threads, as interpreter exit does
        atexit._run_exitfuncs()
    except SystemExit as e:
        code = exit_code(e.code)
    except BaseException:  # noqa: BLE001
        pass
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except BaseException:  # noqa: BLE001
            code = code or 120  # CPython's status when flushing stdout fails at exit
    os._exit(code)


def exit_code(c) -> int:
    if c is None:
        return 0
    if isinstance(c, int):
        return c & 0xFF
    try:
        sys.stderr.write(f"{c}\n")
    except BaseException:  # noqa: BLE001
        pass
    return 1


# ---- the zygote ---------------------------------------------------------------------------------------

def watch(pid: int, timeout: float, hid: int, ctl: socket.socket, ready: int) -> tuple:
    """Wait for the program's first process; (rc, timed_out, set_up). The deadline runs from the end of
    the set-up (``ready``), which has its own limit (a slow scrub of an earlier program's files must not
    time out this program: past SETUP_LIMIT the set-up fails and mmx restarts the slot)."""
    pidfd = os.pidfd_open(pid)
    poll = select.poll()
    poll.register(pidfd, select.POLLIN)
    poll.register(ctl, select.POLLIN)
    poll.register(ready, select.POLLIN)
    deadline, started = time.monotonic() + SETUP_LIMIT, False
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None, started, started
            for fd, _ in poll.poll(left * 1000):
                if fd == pidfd:
                    rc = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
                    if not started:  # it may have run and ended within this same poll: the pipe says
                        started = os.read(ready, 1) == b"1"  # data or EOF, the writer is gone
                    return rc, False, started
                if fd == ready:
                    poll.unregister(ready)
                    if os.read(ready, 1) == b"1":
                        deadline, started = time.monotonic() + timeout, True
                    continue
                m = ctl.recv(256)
                if not m:
                    kill_all()
                    os._exit(0)  # mmx went away
                if m == b"K%d" % hid:  # mmx's output cap: mmx reports it
                    return None, False, started
    finally:
        os.close(pidfd)


def kill_all() -> bool:
    """SIGKILL every process of the namespace but pid 1 and this one, and reap them (we are a subreaper)."""
    end = time.monotonic() + 5
    while time.monotonic() < end:
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            while True:
                pid, _ = os.waitpid(-1, os.WNOHANG)
                if pid == 0:
                    break
        except ChildProcessError:
            return True
        time.sleep(0.0005)
    return False


def scrub() -> None:
    """As the slot uid, before the next program: empty the scratch folders, remove SysV IPC objects (the
    slot's ipc namespace holds only its programs' objects), clear the uid's user keyring. Raises if
    anything is left, which fails the set-up: mmx then restarts the slot's sandbox."""
    for top in SCRATCH:
        for name in os.listdir(top):
            remove(os.path.join(top, name))
    for kind, rm in (("shm", LIBC.shmctl), ("msg", LIBC.msgctl), ("sem", LIBC.semctl)):
        with open(f"/proc/sysvipc/{kind}") as f:
            ids = [int(line.split()[1]) for line in list(f)[1:]]
        for i in ids:
            rm(i, 0, 0)  # IPC_RMID
        if ids:
            with open(f"/proc/sysvipc/{kind}") as f:
                if len(list(f)) > 1:
                    raise OSError(f"SysV {kind} objects of an earlier program could not be removed")
    keyctl(7, -4)  # KEYCTL_CLEAR, KEY_SPEC_USER_KEYRING
    if any(os.listdir(t) for t in SCRATCH):
        raise OSError("files of an earlier program could not be removed")


def remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        os.chmod(path, 0o700)  # the program may have made it unreadable; it is ours
        for name in os.listdir(path):
            remove(os.path.join(path, name))
        os.rmdir(path)
    else:
        os.unlink(path)


def main() -> None:
    uid, ctl_fd, req_fd = (int(a) for a in sys.argv[1:4])
    # kill(-1) below must only ever reach a pid namespace of our own: refuse anywhere else
    if sorted(int(p) for p in os.listdir("/proc") if p.isdigit()) != sorted({1, os.getpid()}):
        sys.exit("mmx zygote: not alone in a fresh pid namespace; refusing to start")
    _ok(LIBC.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), "subreaper")
    os.close(os.pidfd_open(os.getpid()))  # Python >= 3.9 and Linux >= 5.3, or no "ready": mmx falls back
    for m in PRELOAD:
        try:
            __import__(m)
        except ImportError:
            pass
    ctl, req = socket.socket(fileno=ctl_fd), socket.socket(fileno=req_fd)
    ctl.send(json.dumps({"ready": True, "python": sys.executable}).encode())
    clean = True
    while clean:
        m = ctl.recv(4096)
        if not m:
            break
        if m[:1] != b"R":
            continue  # a late kill request for a program already done
        hid, timeout = json.loads(m[1:])
        t0 = time.perf_counter()
        ready_r, ready_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(ready_r)
            child(hid, uid, ctl, req, ready_w)
        os.close(ready_w)
        t1 = time.perf_counter()
        try:
            rc, timed_out, set_up = watch(pid, timeout, hid, ctl, ready_r)
        finally:
            os.close(ready_r)
        t2 = time.perf_counter()
        clean = kill_all() and set_up  # a failed set-up (e.g. a scrub that did not finish): fresh sandbox
        t3 = time.perf_counter()
        ms = [round((b - a) * 1000, 2) for a, b in ((t0, t1), (t1, t2), (t2, t3))]
        ctl.send(json.dumps({"id": hid, "rc": rc, "timeout": timed_out, "clean": clean, "ms": ms}).encode())


if __name__ == "__main__":
    main()
