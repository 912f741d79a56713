"""Mail from files for `import-mail`: single .eml files, mbox files and Maildir folders."""

from __future__ import annotations

import mailbox
from collections.abc import Iterator, Sequence
from pathlib import Path


class MailFileError(Exception):
    """A path that is neither a mail, an mbox nor a Maildir; the message names it."""


def _is_maildir(path: Path) -> bool:
    return all((path / sub).is_dir() for sub in ("cur", "new", "tmp"))


def read_paths(paths: Sequence[Path]) -> Iterator[tuple[str, bytes]]:
    """(where, raw bytes) of every mail in these paths, in the order given."""
    for path in paths:
        if path.is_dir():
            if not _is_maildir(path):
                raise MailFileError(f"{path}: a folder, but not a Maildir (no cur/, new/, tmp/)")
            box = mailbox.Maildir(path, factory=None, create=False)
            for key in sorted(box.keys()):
                yield f"{path}/{key}", box.get_bytes(key)
            continue
        try:
            with path.open("rb") as handle:
                head = handle.read(5)
        except OSError as exc:
            raise MailFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
        if head == b"From ":
            mbox = mailbox.mbox(path, create=False)
            for number, key in enumerate(mbox.keys(), 1):
                yield f"{path}#{number}", mbox.get_bytes(key)
        else:
            yield str(path), path.read_bytes()
