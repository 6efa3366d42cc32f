"""Run one untrusted program under bubblewrap: no network, no host processes, nothing writable but its own
work folder and /tmp; rlimits, a wall-clock timeout and capped output.

Isolation comes from bubblewrap (``bwrap``, Debian package ``bubblewrap``; the tool Flatpak builds on), not
from mmx's own namespace code. Every program runs as
    bwrap [namespaces] [read-only /usr, /etc; private tmpfs /tmp, /dev/shm; minimal /dev; fresh /proc;
           a copy of the work folder at /tmp/work] -- prlimit [rlimits] -- [setpriv --reuid UID] -- CMD...
- files: the work folder is copied into the sandbox's own tmpfs (``--file FD``); no host folder is writable
  (only ``binds``, shared caches the caller names), nothing is chowned, and whatever the program writes goes
  with its mount namespace. No /home, /root, /run, /var, /sys, nor the mmx run folder is mounted.
- namespaces: pid (only its own processes in /proc; when the program exits its pid-1 goes and the kernel
  kills every process left, daemons included), net (no interface but its own loopback: no network, no host
  UNIX sockets, abstract ones included; path sockets are out of reach because no host folder that could hold
  one is mounted), ipc, uts, mount, cgroup, and user when not root. ``--die-with-parent`` ties bwrap to the
  mmx thread that started it, so SIGKILL of mmx takes the whole sandbox with it.
- rlimits (CPU, address space or data, processes, file size, open files, no core files) are set by util-linux
  ``prlimit`` inside the sandbox, so they bind the program and not bwrap's set-up.
- as root, each worker slot runs under an unprivileged uid of its own (``setpriv`` drops to it; capabilities
  and the bounding set are cleared): RLIMIT_NPROC then caps each sandbox separately, and anything of a uid
  can be found and killed. A uid is leased through an flock'ed file under /run/mmx-sandbox, so concurrent mmx
  processes never share one; the kernel drops the lock when its holder dies, so a dead holder's lease is free.
- not root: bwrap makes a user namespace (``--disable-userns`` forbids nested ones); the program keeps the
  invoking user's uid.
- warm sandboxes (default as root, warm.py + zygote.py): the same bwrap sandbox is set up once per worker slot
  and a zygote inside starts each program as a fresh process of the slot uid in a fresh /tmp/work, with the
  same rlimits; between two programs every process of the sandbox is killed and /tmp, /dev/shm, SysV IPC
  and the uid's keyring are emptied. Without root, with shared ``binds``, or with MMX_WARM_SANDBOX=0, each
  program gets a bwrap sandbox of its own as above.
Without a working bwrap, ``require_isolation`` refuses unless the user accepts running untrusted code with
rlimits only (``--allow-unsafe-execution``; ``MMX_SANDBOX=none`` does the same for tests): then launch.py sets
the rlimits and nothing else isolates the program.
"""
from __future__ import annotations

import atexit
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from mmx.execution import warm

LAUNCH = str(Path(__file__).with_name("launch.py"))
# Sandbox uids need no /etc/passwd entry; far above the subordinate-uid ranges (100000 + 65536 per user)
# that rootless containers use.
UID_BASE = 2_000_000_000
UID_COUNT = 4096
LEASE_DIR = "/run/mmx-sandbox"
MAX_SLOTS = 64
OUTPUT_CAP = 1 << 20  # bytes of stdout and of stderr kept; more kills the program
GiB = 1 << 30
WORK = "/tmp/work"  # the work folder inside the sandbox
MAX_FILES = 200  # files copied into it (each travels as an open descriptor)


@dataclass
class Limits:
    timeout: float = 15.0  # wall-clock seconds
    cpu: int = 20  # CPU seconds
    memory: int = 2 * GiB  # bytes of address space (RLIMIT_AS), or of data (RLIMIT_DATA) when data_only
    data_only: bool = False  # JVM / Go / V8 reserve huge virtual ranges: limit written data instead
    nproc: int = 256  # processes+threads of the sandbox uid (JVMs start dozens of threads)
    fsize: int = 64 << 20  # largest file it may write
    nofile: int = 256
    output: int = OUTPUT_CAP


@dataclass
class Result:
    status: str  # ok | error | timeout | output_limit | sandbox_error
    returncode: int | None
    stdout: str
    stderr: str
    seconds: float
    extra: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


BASE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
            # without isolation, clients that honour proxies at least fail fast
            "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
            "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
            "ALL_PROXY": "socks5://127.0.0.1:9", "no_proxy": "", "PYTHONDONTWRITEBYTECODE": "1"}


# ---- uid leases (root only) ---------------------------------------------------------------------------

_LEASES: dict[int, tuple[int, int]] = {}  # slot -> (uid, fd of its locked lease file)
_LEASE_LOCK = threading.Lock()


def sandbox_uid(slot: int) -> int:
    """The unprivileged uid leased to worker ``slot`` of this process (as root), held until the process exits."""
    with _LEASE_LOCK:
        if slot not in _LEASES:
            _LEASES[slot] = _lease()
        return _LEASES[slot][0]


def _lease() -> tuple[int, int]:
    os.makedirs(LEASE_DIR, mode=0o700, exist_ok=True)
    start = os.getpid() % UID_COUNT  # spread concurrent processes; every uid is tried
    for i in range(UID_COUNT):
        uid = UID_BASE + (start + i) % UID_COUNT
        fd = os.open(f"{LEASE_DIR}/{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:  # flock belongs to this open file: taken even against another slot of this same process
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())  # for people looking; the lock is what counts
        kill_uid(uid)  # a previous holder died: nothing of its programs may survive (pid namespaces see to it)
        return uid, fd
    raise RuntimeError(f"all {UID_COUNT} sandbox uids under {LEASE_DIR} are leased")


@atexit.register
def _release_leases() -> None:
    with _LEASE_LOCK:
        for _, fd in _LEASES.values():
            os.close(fd)  # closing drops the flock
        _LEASES.clear()


def kill_uid(uid: int) -> None:
    """SIGKILL every process of a sandbox uid (a safety net: the pid namespace already ends them all)."""
    for _ in range(250):  # up to ~5 s
        found = False
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                if os.stat(f"/proc/{pid}").st_uid == uid:
                    found = True  # zombies too: they count against RLIMIT_NPROC until reaped
                    os.kill(int(pid), signal.SIGKILL)
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                pass
        if not found:
            return
        time.sleep(0.02)


# ---- what isolates the program -------------------------------------------------------------------------

_ISOLATION: dict | None = None
_ALLOW_UNSAFE = False
_PROBE_LOCK = threading.Lock()
NAMESPACES = ["mount", "pid", "net", "ipc", "uts", "cgroup"]


# First command inside the sandbox: report "set up" on stdin (a pipe mmx reads), then give the program
# /dev/null as stdin. Only this wrapper ever holds the pipe, so a program cannot fake a sandbox failure
# (by printing "bwrap: ..." and exiting 1) nor hide one; bwrap's own --info-fd reports before the set-up.
STARTED = 'printf 1 >&0 && exec 0</dev/null && exec "$@"'


def _rlimits(lim: Limits) -> dict[str, int]:
    return {"cpu": lim.cpu, "fsize": lim.fsize, "nofile": lim.nofile, "core": 0, "nproc": lim.nproc,
            ("data" if lim.data_only else "as"): lim.memory}


def rlimit_names(lim: Limits) -> dict[str, int]:
    """``_rlimits`` by ``resource`` module name (RLIMIT_CPU, ...): what launch.py and the zygote set."""
    return {f"RLIMIT_{k.upper()}": v for k, v in _rlimits(lim).items()}


def _bwrap_argv(bwrap: str, work: list[str], binds: dict[str, str], uid: int | None, lim: Limits) -> list[str]:
    """The bwrap command line up to the program; ``work`` builds the work folder (see _work_folder)."""
    a = _bwrap_base(bwrap, work, binds, uid)
    a += ["--chdir", WORK, "--", "/bin/sh", "-c", STARTED, "sh", shutil.which("prlimit") or "prlimit"]
    a += [f"--{k}={v}" for k, v in _rlimits(lim).items()]
    a += ["--"]
    if uid is not None:
        a += [shutil.which("setpriv") or "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
              "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all", "--"]
    return a


def _bwrap_base(bwrap: str, work: list[str], binds: dict[str, str], uid: int | None,
                extra_caps: list[str] | tuple = ()) -> list[str]:
    """bwrap's namespaces and file system, up to (not including) --chdir and the command."""
    a = [bwrap, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
         "--hostname", "sandbox", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    if uid is None:
        a += ["--unshare-user", "--disable-userns"]
    else:  # setpriv needs these to drop to the sandbox uid and clear the bounding set; then nothing is left
        a += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP"]
        for cap in extra_caps:  # the warm sandbox's zygote also kills the programs it started (CAP_KILL)
            a += ["--cap-add", cap]
    # The system read-only; no /home, /root, /run, /var, /srv, /mnt, /sys, nor the mmx run folder.
    a += ["--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"]
    for top in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        p = f"/{top}"
        if os.path.islink(p):
            a += ["--symlink", os.readlink(p), p]
        elif os.path.isdir(p):
            a += ["--ro-bind", p, p]
    a += ["--dev", "/dev", "--proc", "/proc",
          "--perms", "1777", "--size", str(512 << 20), "--tmpfs", "/tmp",
          "--perms", "1777", "--size", str(64 << 20), "--tmpfs", "/dev/shm", *work]
    for name, src in binds.items():  # shared caches (e.g. Go's build cache) at /tmp/NAME, writable
        a += ["--bind", str(src), f"/tmp/{name}"]
    return a


def _probe() -> dict:
    if os.environ.get("MMX_SANDBOX") == "none":
        return {"tool": "none", "reason": "MMX_SANDBOX=none is set"}
    if not sys.platform.startswith("linux"):
        return {"tool": "none", "reason": f"bubblewrap needs Linux (this is {sys.platform})"}
    bwrap = shutil.which("bwrap")
    missing = [t for t in ("bwrap", "prlimit", "setpriv") if shutil.which(t) is None]
    if missing:
        return {"tool": "none", "reason": f"{', '.join(missing)} not installed (apt-get install bubblewrap "
                                          "util-linux)"}
    as_root = os.geteuid() == 0
    try:
        version = subprocess.run([bwrap, "--version"], capture_output=True, text=True, timeout=10).stdout.split()[-1]
        uid = sandbox_uid(0) if as_root else None
        work = ["--perms", "0777", "--dir", WORK]
        r = _watch(_bwrap_argv(bwrap, work, {}, uid, Limits(timeout=30)) + ["/bin/sh", "-c", "echo ok > f && cat f"],
                   "/", BASE_ENV, Limits(timeout=30), uid, [])
    except (OSError, subprocess.SubprocessError, RuntimeError, IndexError) as e:
        return {"tool": "none", "reason": f"bubblewrap could not be run: {e}"}
    if not (r.ok and r.stdout.strip() == "ok"):
        why = (r.stderr.strip() or f"{r.status}, exit status {r.returncode}")[-400:]
        hint = "" if as_root else " (are unprivileged user namespaces disabled? sysctl kernel.unprivileged_userns_clone=1)"
        return {"tool": "none", "reason": f"bubblewrap failed: {why}{hint}"}
    return {"tool": "bubblewrap", "version": version, "path": bwrap, "as_root": as_root,
            "namespaces": NAMESPACES + ([] if as_root else ["user"]),
            "uid": "per-worker (leased)" if as_root else "invoking user",
            "filesystem": "read-only /usr /etc; private /tmp and /dev/shm; work folder at /tmp/work",
            "network": "none", "limits": "prlimit: cpu, as/data, nproc, fsize, nofile, core; wall clock; output"}


def isolation() -> dict:
    """What isolates generated programs on this machine (probed once, cached); recorded in results.json."""
    global _ISOLATION
    if os.environ.get("MMX_SANDBOX") == "none":
        return {"tool": "none", "reason": "MMX_SANDBOX=none is set"}
    with _PROBE_LOCK:
        if _ISOLATION is None:
            _ISOLATION = _probe()
        return dict(_ISOLATION)


def isolation_available() -> bool:
    return isolation()["tool"] == "bubblewrap"


def require_isolation(allow_unsafe: bool = False) -> dict:
    """``isolation()`` when bubblewrap works; else refuse (MmxError) unless the user accepts the risk."""
    global _ALLOW_UNSAFE
    iso = isolation()
    if iso["tool"] == "bubblewrap":
        return iso
    if allow_unsafe or os.environ.get("MMX_SANDBOX") == "none":  # the variable is an explicit opt-in too
        _ALLOW_UNSAFE = True
        return {**iso, "tool": "none", "unsafe": True, "limits": "rlimits only: no file, process or network isolation"}
    from mmx.errors import MmxError

    raise MmxError(
        f"generated code cannot be isolated here: {iso['reason']}. Install bubblewrap "
        "(`apt-get install bubblewrap`) and, when not root, allow unprivileged user namespaces "
        "(sysctl kernel.unprivileged_userns_clone=1 / user.max_user_namespaces > 0). Or pass "
        "--allow-unsafe-execution to run untrusted model-generated code WITHOUT isolation (rlimits only), "
        "at your own risk.")


# ---- running -------------------------------------------------------------------------------------------

def _reader(stream, cap: int, out: list, over: threading.Event) -> None:
    n = 0
    while True:
        chunk = stream.read(65536)
        if not chunk:
            break
        if n < cap:
            out.append(chunk[: cap - n])
        n += len(chunk)
        if n > cap:
            over.set()
            break
    stream.close()


def run(cmd: list[str], workdir: str | Path, limits: Limits | None = None, env: dict | None = None,
        slot: int = 0, binds: dict[str, str] | None = None) -> Result:
    """Run ``cmd`` in ``workdir`` (relative paths resolve there) under the sandbox; never raises for the program."""
    return _run(cmd, str(Path(workdir).resolve()), None, limits, env, slot, binds, False)


def run_files(cmd: list[str], files: dict[str, str | bytes], limits: Limits | None = None, env: dict | None = None,
              slot: int = 0, binds: dict[str, str] | None = None, python_script: bool = False) -> Result:
    """Like ``run``, with the work folder given as {relative path: content}. ``python_script``: ``cmd`` is
    ``python3 SCRIPT ...``, which a warm sandbox may run in its already-started interpreter (warm.py)."""
    bad = [n for n in files if n.startswith("/") or ".." in Path(n).parts]
    if bad or len(files) > MAX_FILES:
        return Result("sandbox_error", None, "", f"bad work folder: {bad[:3] or len(files)}", 0.0)
    entries, dirs = [], set()
    for name, content in files.items():
        for parent in Path(name).parents:
            if str(parent) != "." and str(parent) not in dirs:
                dirs.add(str(parent))
                entries.append([str(parent), "dir", 0o777, ""])
        data = content.encode("utf-8") if isinstance(content, str) else content
        entries.append([name, "file", 0o666, data.decode("latin-1")])
    entries.sort(key=lambda e: (e[1] != "dir", e[0].count("/")))  # parents first (zygote.build_work)
    return _run(cmd, None, entries, limits, env, slot, binds, python_script)


def _run(cmd: list[str], workdir: str | None, entries: list | None, limits: Limits | None, env: dict | None,
         slot: int, binds: dict[str, str] | None, python_script: bool, warm_ok: bool = True) -> Result:
    """``warm_ok`` False: a sandbox of the program's own, even where warm sandboxes apply (its slot failed)."""
    use_warm = warm_ok and _warm_applies(binds)
    if workdir is None and not use_warm:  # the one-sandbox-per-program path copies a host folder in: make one
        with tempfile.TemporaryDirectory(prefix="mmx-run-") as d:
            for name, kind, _, data in entries:
                if kind == "dir":
                    Path(d, name).mkdir(exist_ok=True)
                else:
                    Path(d, name).write_bytes(data.encode("latin-1"))
            return _run(cmd, d, None, limits, env, slot, binds, False, warm_ok=False)
    lim = limits or Limits()
    iso = isolation()
    isolated = iso["tool"] == "bubblewrap"
    if not isolated and not (_ALLOW_UNSAFE or os.environ.get("MMX_SANDBOX") == "none"):
        return Result("sandbox_error", None, "", f"refusing to run untrusted code without isolation: "
                      f"{iso['reason']} (see require_isolation / --allow-unsafe-execution)", 0.0)
    full_env = {**BASE_ENV, "HOME": WORK if isolated else workdir, "TMPDIR": "/tmp" if isolated else workdir,
                **(env or {})}
    exe = shutil.which(cmd[0], path=full_env["PATH"]) if "/" not in cmd[0] else cmd[0]
    if exe is None:
        return Result("sandbox_error", None, "", f"{cmd[0]} is not installed (not on PATH)", 0.0)
    if not isolated:
        rl = rlimit_names(lim)
        if os.geteuid() == 0:
            del rl["RLIMIT_NPROC"]  # root ignores it, and it would count every root process of the machine
        return _watch([sys.executable, "-I", "-S", LAUNCH, repr(rl), "--", exe, *cmd[1:]], workdir, full_env,
                      lim, None, None)
    uid = None
    if iso["as_root"]:
        try:
            uid = sandbox_uid(slot)
        except (OSError, RuntimeError) as e:
            return Result("sandbox_error", None, "", f"no sandbox uid: {e}", 0.0)
    if use_warm:
        try:
            if entries is None:
                entries = _read_folder(workdir)
        except OSError as e:
            return Result("sandbox_error", None, "", f"could not read the work folder: {e}", 0.0)
        r = warm.run(entries, exe, cmd[1:], full_env, lim, slot, iso["path"], uid, python_script)
        if r is not None:
            return r
        if workdir is None:  # this slot could not start: the program gets a sandbox of its own (a host folder)
            return _run(cmd, None, entries, limits, env, slot, binds, False, warm_ok=False)
    fds: list[int] = []
    try:
        work = _work_folder(workdir, fds)
        argv = _bwrap_argv(iso["path"], work, binds or {}, uid, lim) + [exe, *cmd[1:]]
        return _watch(argv, "/", full_env, lim, uid, fds)
    except OSError as e:
        return Result("sandbox_error", None, "", f"could not prepare the work folder: {e}", 0.0)
    finally:
        for fd in fds:
            os.close(fd)


def _warm_applies(binds: dict | None) -> bool:
    """Warm sandboxes (warm.py) need root (a uid to drop to) and no shared binds."""
    if binds or not warm.enabled():
        return False
    iso = isolation()
    return iso["tool"] == "bubblewrap" and bool(iso.get("as_root"))


def _read_folder(workdir: str) -> list:
    """A host work folder as zygote.build_work entries (parents before children)."""
    entries = []
    for root, dirs, files in os.walk(workdir):
        rel = os.path.relpath(root, workdir)
        for name in sorted(dirs) + sorted(files):
            src, path = os.path.join(root, name), os.path.normpath(os.path.join(rel, name))
            if os.path.islink(src):
                entries.append([path, "link", 0, os.readlink(src)])
                if name in dirs:
                    dirs.remove(name)
            elif name in dirs:
                entries.append([path, "dir", 0o777, ""])
            else:
                if len(entries) >= MAX_FILES:
                    raise OSError(f"{workdir} holds more than {MAX_FILES} files; a work folder is a program's own")
                with open(src, "rb") as f:
                    data = f.read()
                entries.append([path, "file", os.stat(src).st_mode & 0o777 | 0o666, data.decode("latin-1")])
    return entries


def _work_folder(workdir: str, fds: list[int]) -> list[str]:
    """bwrap options that build the work folder inside the sandbox's own tmpfs, copying ``workdir`` in.

    Nothing of the host is bound writable there (and nothing is chowned): what the program writes dies with
    its mount namespace, even when mmx is SIGKILLed. Files travel as open descriptors (``--file FD``)."""
    args = ["--perms", "0777", "--dir", WORK]
    for root, dirs, files in os.walk(workdir):
        dst = os.path.normpath(os.path.join(WORK, os.path.relpath(root, workdir)))
        for name in dirs + files:
            src, target = os.path.join(root, name), f"{dst}/{name}"
            if os.path.islink(src):
                args += ["--symlink", os.readlink(src), target]
            elif name in dirs:
                args += ["--perms", "0777", "--dir", target]
            else:
                if len(fds) >= MAX_FILES:
                    raise OSError(f"{workdir} holds more than {MAX_FILES} files; a work folder is a program's own")
                fds.append(os.open(src, os.O_RDONLY | os.O_CLOEXEC))
                mode = os.stat(src).st_mode & 0o777 | 0o666  # writable by the sandbox uid
                args += ["--perms", f"{mode:04o}", "--file", str(fds[-1]), target]
    return args


def _watch(argv: list[str], cwd: str, env: dict, lim: Limits, uid: int | None, fds: list[int] | None) -> Result:
    """Start ``argv``, read its output up to the cap, kill it at the deadline; the Result.

    ``fds`` is None without bwrap, else the descriptors bwrap reads (``--file``)."""
    info_r = info_w = None
    if fds is not None:
        info_r, info_w = os.pipe()  # see STARTED: the wrapper writes "1" here once the sandbox is set up
    t0 = time.monotonic()
    try:
        # umask 0 as root: a shared bind (Go's cache) stays writable for the other workers' uids
        proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL if info_w is None else info_w,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True,
                                umask=0 if uid is not None else -1, pass_fds=fds or ())
    except OSError as e:
        if info_r is not None:
            os.close(info_r)
        return Result("sandbox_error", None, "", f"could not start the sandbox: {e}", 0.0)
    finally:
        if info_w is not None:
            os.close(info_w)
    outs: tuple[list, list] = ([], [])
    over = threading.Event()
    readers = [threading.Thread(target=_reader, args=(s, lim.output, o, over), daemon=True)
               for s, o in zip((proc.stdout, proc.stderr), outs)]
    for t in readers:
        t.start()
    status = None
    deadline = t0 + lim.timeout
    while status is None:
        if proc.poll() is not None:
            break
        if over.is_set():
            status = "output_limit"
        elif time.monotonic() > deadline:
            status = "timeout"
        else:
            over.wait(0.01)
    # Killing bwrap (its process group) ends the sandbox: die-with-parent, then the pid namespace.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()
    if uid is not None:
        kill_uid(uid)
    for t in readers:
        t.join(timeout=5)
    rc = proc.returncode
    set_up = True
    if info_r is not None:
        os.set_blocking(info_r, False)
        try:
            set_up = os.read(info_r, 16) == b"1"
        except BlockingIOError:
            set_up = False
        os.close(info_r)
    dec = lambda parts: b"".join(parts).decode("utf-8", "replace")  # noqa: E731
    err = dec(outs[1])
    if status is None and over.is_set():
        status = "output_limit"  # it went past the cap and exited before the loop noticed
    if status is None:
        status = "ok" if rc == 0 else "error"
        if not set_up or (info_r is None and rc == 125 and err.startswith("mmx sandbox: setup failed")):
            status = "sandbox_error"
    return Result(status, rc, dec(outs[0]), err, round(time.monotonic() - t0, 4))
