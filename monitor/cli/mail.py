"""`import-mail`: shop mails from files become orders, the same way the `[mail]` watcher does."""

from __future__ import annotations

import argparse

from monitor.cli.common import UserError, open_pipeline, settings_of
from monitor.mail.files import MailFileError, read_paths
from monitor.mail.intake import Intake
from monitor.mail.reader import load_readers
from monitor.views.terminal import ImportCounts, print_import_counts, print_mail_outcome


def cmd_import_mail(args: argparse.Namespace) -> int:
    settings, _ = settings_of(args)
    readers = load_readers(settings.plugin_dirs, settings.mail.readers)
    pipeline = open_pipeline(settings)
    counts = ImportCounts()
    try:
        intake = Intake(pipeline, readers)
        # All the files are one batch: a confirmation and its shipping notice are merged
        # before the rules see the order.
        mails = list(read_paths(args.files))
        for (where, _), outcome in zip(
            mails, intake.take_batch([raw for _, raw in mails]), strict=True
        ):
            counts.add(len(outcome.created), len(outcome.tracks))
            print_mail_outcome(
                where, outcome.created, outcome.tracks, outcome.skipped, args.verbose
            )
    except MailFileError as exc:
        raise UserError(str(exc)) from None
    finally:
        pipeline.store.close()
    print_import_counts(counts)
    return 0
