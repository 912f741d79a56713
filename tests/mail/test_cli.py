"""`parcel-monitor import-mail` on .eml files, an mbox and a Maildir; list/show say the origin."""

from __future__ import annotations

import json
import mailbox
import shutil
from pathlib import Path

import pytest

from tests.mail.conftest import CORPUS
from tests.test_cli import run

SHIPPING = ["ali-en-confirmation.eml", "ali-en-shipped.eml", "ali-en-second-shipment.eml"]


def test_eml_files_become_orders_and_list_and_show_say_so(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "import-mail", *(str(CORPUS / n) for n in SHIPPING))
    assert code == 0, err
    assert "new order 8183924513740321" in out and "RA987654326CN -> order 8183924513740321" in out
    assert "3 mails, 1 orders created, 2 track numbers added" in err
    code, out, _ = run(capsys, "list")
    header, row = out.splitlines()[:2]
    assert header.split()[-1] == "FROM" and row.split()[-1] == "mail"
    code, out, _ = run(capsys, "list", "--json")
    (order,) = json.loads(out)
    assert order["origin"].startswith("mail: Order confirmed: 8183924513740321")
    assert order["tracks"] == ["RB123456785CN", "RA987654326CN"]
    code, out, _ = run(capsys, "show", "8183924513740321")
    assert "came from your mail: Order confirmed" in out and "Found in your mail:" in out
    assert "Part of your order has been shipped" in out
    code, out, _ = run(capsys, "show", "8183924513740321", "--json")
    mails = json.loads(out)["mails"]
    assert next(m["message_id"] for m in mails) == "<20261102063310.a1@notice.aliexpress.com>"
    # A second import of the same files reads nothing twice.
    code, out, err = run(capsys, "import-mail", "-v", *(str(CORPUS / n) for n in SHIPPING))
    assert code == 0 and out.count("already read") == 3 and "0 orders created" in err


def test_an_mbox_and_a_maildir(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    mbox = mailbox.mbox(tmp_path / "shop.mbox")
    for name in ("ali-ru-confirmation.eml", "ali-ru-shipped.eml", "trap-bank-statement.eml"):
        mbox.add((CORPUS / name).read_bytes())
    mbox.close()
    maildir = mailbox.Maildir(tmp_path / "Maildir")
    for name in ("ozon-shipped.eml", "gadget-store-en.eml"):
        maildir.add((CORPUS / name).read_bytes())
    code, out, err = run(
        capsys, "import-mail", str(tmp_path / "shop.mbox"), str(tmp_path / "Maildir")
    )
    assert code == 0, err
    assert "5 mails, 3 orders created, 3 track numbers added" in err
    code, out, _ = run(capsys, "list", "--json")
    assert sorted(o["id"] for o in json.loads(out)) == [
        "12345678-0021",
        "5012345678901234",
        "gadget-store-RR123456785DE",
    ]


def test_a_folder_that_is_not_a_maildir_is_named(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    shutil.copy(CORPUS / "ali-en-shipped.eml", tmp_path)
    code, _, err = run(capsys, "import-mail", str(tmp_path))
    assert code == 2 and f"{tmp_path}: a folder, but not a Maildir" in err


def test_a_confirmation_and_its_shipping_notice_in_one_import_raise_no_track_missing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    names = ["ali-en-confirmation.eml", "ali-en-shipped.eml"]
    code, out, err = run(capsys, "import-mail", *(str(CORPUS / n) for n in names))
    assert code == 0, err
    code, out, _ = run(capsys, "show", "8183924513740321", "--json")
    shown = json.loads(out)
    assert shown["tracks"] == ["RB123456785CN"]
    assert "track_missing" not in out and "mail_import" in out
