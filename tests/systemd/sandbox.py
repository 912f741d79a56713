"""Start a command under the unit's kernel-level restrictions, without systemd.

    python sandbox.py PROGRAM ARGS...

systemd implements SystemCallFilter=, RestrictAddressFamilies= and MemoryDenyWriteExecute= with
seccomp and (for the latter) the same rule the kernel's PR_SET_MDWE enforces: no mapping may be
writable and executable, and none may become executable later. This script installs the same
limits with libseccomp and prctl, then execs the command, so a test can check that the daemon's
Python environment really lives with them. The syscall groups come from `systemd-analyze
syscall-filter` on this machine, exactly as the unit names them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import socket
import subprocess
import sys

# Kept in step with systemd/parcel-monitor.service.
ALLOWED_GROUPS = ("@system-service",)
DENIED_GROUPS = ("@privileged", "@resources")
ADDRESS_FAMILIES = (socket.AF_UNIX, socket.AF_INET, socket.AF_INET6)

PR_SET_NO_NEW_PRIVS = 38
PR_SET_MDWE = 65
PR_MDWE_REFUSE_EXEC_GAIN = 1
SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_CMP_EQ = 4


def scmp_act_errno(code: int) -> int:
    return 0x00050000 | (code & 0xFFFF)


class ArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


def expand(group: str, seen: set[str] | None = None) -> set[str]:
    """The system calls in a systemd group, nested groups included."""
    seen = set() if seen is None else seen
    listing = subprocess.run(
        ["systemd-analyze", "syscall-filter", group], capture_output=True, text=True, check=True
    ).stdout
    calls: set[str] = set()
    for line in listing.splitlines()[1:]:
        name = line.strip()
        if not name or name.startswith("#"):
            continue
        if name.startswith("@"):
            if name not in seen:
                seen.add(name)
                calls |= expand(name, seen)
        else:
            calls.add(name)
    return calls


def install_filter() -> None:
    allowed = set().union(*map(expand, ALLOWED_GROUPS)) - set().union(*map(expand, DENIED_GROUPS))
    lib = ctypes.CDLL(ctypes.util.find_library("seccomp") or "libseccomp.so.2", use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p,
        ctypes.c_uint32,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.POINTER(ArgCmp),
    ]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    # SystemCallErrorNumber=EPERM: whatever is not allowed fails with EPERM.
    ctx = lib.seccomp_init(scmp_act_errno(errno.EPERM))
    socket_nr = lib.seccomp_syscall_resolve_name(b"socket")
    for name in sorted(allowed - {"socket"}):
        number = lib.seccomp_syscall_resolve_name(name.encode())
        if number >= 0:  # names of other architectures resolve to a negative number
            lib.seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, number, 0, None)
    for family in ADDRESS_FAMILIES:  # RestrictAddressFamilies=
        condition = ArgCmp(0, SCMP_CMP_EQ, family, 0)
        if lib.seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, socket_nr, 1, ctypes.byref(condition)):
            raise OSError("seccomp_rule_add failed for socket()")
    if lib.seccomp_load(ctx):
        raise OSError(ctypes.get_errno(), "seccomp_load failed")


def main(argv: list[str]) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0):  # NoNewPrivileges=yes; seccomp needs it
        raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS")
    if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0):  # MemoryDenyWriteExecute=
        raise OSError(ctypes.get_errno(), "PR_SET_MDWE (needs Linux 6.3)")
    install_filter()
    os.execv(argv[0], argv)


if __name__ == "__main__":
    main(sys.argv[1:])
