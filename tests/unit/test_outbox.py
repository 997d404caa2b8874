"""The outbox (idp/mail/outbox.py) on a real directory: writers racing in several processes
leave whole messages only, a job delivered twice leaves one file, and names are ours alone."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime
from pathlib import Path

from idp.mail import Outbox, OutboxSender, OutgoingMail

WRITERS, EACH = 4, 10


def mail(number: int) -> OutgoingMail:
    return OutgoingMail(
        sender_name="Acme",
        sender_address="no-reply@example.com",
        to=f"person{number}@example.com",
        subject=f"Message {number}",
        text=f"Follow https://id.example.com/t/acme/verify?token=idp_ev_{number} (ends here).\n",
        html=f"<p>Message {number}</p>",
        message_id=f"<{number}.test@example.com>",
        date=datetime(2026, 12, 3, 10, 0, number % 60, tzinfo=UTC),
    )


def write_some(directory: Path, first: int) -> None:
    sender = OutboxSender(directory)
    for number in range(first, first + EACH):
        sender.send(mail(number))


def test_writers_in_several_processes_leave_every_message_whole(tmp_path: Path) -> None:
    directory = tmp_path / "outbox"
    context = multiprocessing.get_context("spawn")  # separate processes, as gunicorn workers
    writers = [
        context.Process(target=write_some, args=(directory, n * EACH)) for n in range(WRITERS)
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(60)
        assert writer.exitcode == 0
    entries = Outbox(directory).entries()
    assert sorted(entry.to for entry in entries) == sorted(
        f"person{n}@example.com" for n in range(WRITERS * EACH)
    )
    assert [path.name for path in directory.iterdir() if not path.name.endswith(".eml")] == []
    entry = next(entry for entry in entries if entry.subject == "Message 7")
    assert entry.links == ["https://id.example.com/t/acme/verify?token=idp_ev_7"]


def test_a_message_delivered_twice_is_one_file(tmp_path: Path) -> None:
    sender = OutboxSender(tmp_path)
    sender.send(mail(1))
    sender.send(mail(1))  # at least once: the job ran again after the write
    assert len(Outbox(tmp_path).entries()) == 1


def test_only_names_the_outbox_wrote_are_read(tmp_path: Path) -> None:
    (tmp_path / "outbox").mkdir()
    (tmp_path / "secret.eml").write_text("To: x\n\nnot for you")
    outbox = Outbox(tmp_path / "outbox")
    assert outbox.entry("../secret") is None
    assert outbox.entries() == []
