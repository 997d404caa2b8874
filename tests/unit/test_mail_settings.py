"""`[mail]` settings (DESIGN §8, §12): what each documented form of `mail.smtp_url` means, and
that every mistake stops start-up naming the key and never quoting the password."""

from __future__ import annotations

from pathlib import Path

import pytest

from idp.mail import OutboxSender, SmtpSender, make_sender
from idp.mail.smtp_url import parse_smtp_url
from idp.settings import MailSettings, SettingsError, load_settings


def load(tmp_path: Path, **environ: str):
    config = tmp_path / "config.toml"
    config.write_text("")
    return load_settings(config, environ=environ)


def test_the_default_is_the_outbox_in_var(tmp_path: Path) -> None:
    settings = load(tmp_path).mail
    assert (settings.smtp_url, settings.outbox_dir) == ("", "var/outbox")
    assert isinstance(make_sender(settings), OutboxSender)


def test_smtp_url_names_host_port_and_credentials(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("")
    url = parse_smtp_url(f"smtp://mailer:p%40ss%2Fword@mail.example.com:2525?ssl_ca_certs={ca}")
    assert (url.implicit_tls, url.host, url.port) == (False, "mail.example.com", 2525)
    assert (url.username, url.password, url.ca_file) == ("mailer", "p@ss/word", str(ca))
    assert "p@ss" not in repr(url)


def test_default_ports_are_submission_and_submissions() -> None:
    # RFC 6409 §3.1 (587, STARTTLS when offered) and RFC 8314 §3.3 (465, implicit TLS).
    assert parse_smtp_url("smtp://mail.example.com").port == 587
    smtps = parse_smtp_url("smtps://mail.example.com")
    assert (smtps.implicit_tls, smtps.port, smtps.username) == (True, 465, None)


def test_a_set_smtp_url_selects_the_smtp_sender(tmp_path: Path) -> None:
    settings = load(tmp_path, IDP_MAIL__SMTP_URL="smtps://u:hunter2@mail.example.com").mail
    assert isinstance(make_sender(settings), SmtpSender)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("smtp://u:hunter2@mail.example.com:99999", "no valid port"),
        ("smtp://u:hunter2@mail.example.com:port", "no valid port"),
        ("smtp://u:hunter2@:25", "names no host"),
        ("smtp://u:hunter2@mail.example.com/inbox", "takes no path"),
        ("smtp://u:hunter2@mail.example.com?tls=off", "unknown option 'tls'"),
        ("smtp://u:hunter2@mail.example.com?ssl_ca_certs=/no/such/ca.pem", "no readable file"),
        ("smtp://hunter2@mail.example.com", "both a user and a password"),
    ],
)
def test_a_mistake_names_smtp_url_and_never_the_password(url: str, message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        make_sender(MailSettings(smtp_url=url))
    assert str(raised.value).startswith("mail.smtp_url")
    assert message in str(raised.value)
    assert "hunter2" not in str(raised.value)


def test_another_scheme_stops_loading_the_settings(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"^mail\.smtp_url must be empty or an smtp://"):
        load(tmp_path, IDP_MAIL__SMTP_URL="http://u:hunter2@mail.example.com")


@pytest.mark.parametrize("address", ["not-an-address", "idp@localhost", "a@b@example.com"])
def test_from_address_must_be_an_address(tmp_path: Path, address: str) -> None:
    with pytest.raises(SettingsError, match=r"^mail\.from_address is not an e-mail address"):
        load(tmp_path, IDP_MAIL__FROM_ADDRESS=address)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("IDP_MAIL__TIMEOUT_SECONDS", "0", "mail.timeout_seconds must be a positive number"),
        ("IDP_MAIL__OUTBOX_DIR", " ", "mail.outbox_dir must name a directory"),
    ],
)
def test_other_mail_keys_are_checked(tmp_path: Path, key: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load(tmp_path, **{key: value})
