"""A real Dovecot IMAP server for tests (and the mail benchmark): our own process, our own config.

Nothing of the system's Dovecot is used but the binary: a config file, a passwd-file user and a
Maildir in a temporary folder, a free loopback port, plain-text login (loopback only). Run as an
ordinary user, every process runs as that user. Run as root, Dovecot refuses mail access as uid 0,
so the mail user is `nobody` and its folder a world-traversable temp dir (pytest's own tmp dirs
are private to root).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER, PASSWORD = "buyer", "correct horse battery staple"


def available() -> str | None:
    """None when tests can start a Dovecot, else why not."""
    if not Path(DOVECOT).is_file():
        return "dovecot is not installed (Debian: apt-get install dovecot-imapd; .ci/run does it)"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Dovecot:
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="pm-dovecot-")))
    port: int = field(default_factory=free_port)
    tls_port: int = field(default_factory=free_port)  # implicit TLS; `port` offers STARTTLS
    host: str = "127.0.0.1"
    tls: bool = False  # a self-signed certificate for 127.0.0.1: `certificate` is its CA file
    process: subprocess.Popen[bytes] | None = None

    @property
    def certificate(self) -> Path:
        return self.folder / "cert.pem"

    def _make_certificate(self) -> str:
        files = ["-keyout", str(self.folder / "key.pem"), "-out", str(self.certificate)]
        names = ["-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"]
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                *files,
                *names,
            ],
            check=True,
            capture_output=True,
        )
        return f"ssl = yes\nssl_cert = <{self.certificate}\nssl_key = <{self.folder / 'key.pem'}\n"

    @property
    def config(self) -> Path:
        return self.folder / "dovecot.conf"

    def _accounts(self) -> tuple[str, str, str, str, int, int]:
        """(login user, internal user, group, mail user's uid, gid) for this process."""
        me = pwd.getpwuid(os.geteuid())
        if os.geteuid() != 0:
            return me.pw_name, me.pw_name, me.pw_name, me.pw_name, me.pw_uid, me.pw_gid
        nobody = pwd.getpwnam("nobody")
        login = "dovenull" if _user_exists("dovenull") else "nobody"
        internal = "dovecot" if _user_exists("dovecot") else "nobody"
        return login, internal, internal, "root", nobody.pw_uid, nobody.pw_gid

    def start(self) -> None:
        login, internal, _, _, uid, gid = self._accounts()
        home = self.folder / "home"
        home.mkdir(parents=True, exist_ok=True)
        run = self.folder / "run"
        run.mkdir(exist_ok=True)
        self.folder.chmod(0o755)
        if os.geteuid() == 0:
            os.chown(home, uid, gid)
        (self.folder / "passwd").write_text(
            f"{USER}:{{PLAIN}}{PASSWORD}:{uid}:{gid}::{home}::\n", encoding="utf-8"
        )
        ssl = self._make_certificate() if self.tls else "ssl = no\n"
        self.config.write_text(
            ssl
            + f"""
base_dir = {run}
state_dir = {self.folder}/state
log_path = {self.folder}/dovecot.log
protocols = imap
listen = {self.host}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_fsync = never
default_login_user = {login}
default_internal_user = {internal}
first_valid_uid = {min(uid, 100)}
mail_location = maildir:{home}/Maildir
passdb {{
  driver = passwd-file
  args = {self.folder}/passwd
}}
userdb {{
  driver = passwd-file
  args = {self.folder}/passwd
}}
service imap-login {{
  inet_listener imap {{
    address = {self.host}
    port = {self.port}
  }}
  inet_listener imaps {{
    address = {self.host}
    port = {self.tls_port if self.tls else 0}
    ssl = yes
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
""",
            encoding="utf-8",
        )
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group: stop() ends every child with it
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self.log()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not listen on {self.port}: {self.log()}")

    def log(self) -> str:
        path = self.folder / "dovecot.log"
        stderr = ""
        if self.process is not None and self.process.poll() is not None and self.process.stderr:
            stderr = self.process.stderr.read().decode(errors="replace")
        return stderr + (path.read_text(errors="replace") if path.exists() else "")

    def stop(self) -> None:
        """SIGTERM to the master, which ends its children; SIGKILL to the group if it dawdles."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(3)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.process = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True
