"""Configuration (DESIGN §8): config.toml, IDP_<SECTION>__<KEY> overrides, validation by key."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from idp.settings import Settings, SettingsError, load_settings
from tests.support.cli import REPO, Installation

SHIPPED = REPO / "config.toml"


@pytest.fixture
def empty_config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text("")
    return path


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_defaults_load_and_validate(empty_config: Path) -> None:
    settings = load_settings(empty_config, environ={})
    assert settings == Settings()
    assert settings.database.url == "sqlite:///var/idp.sqlite3"
    assert settings.tokens.signing_alg == "RS256"


def test_missing_default_config_file_means_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_settings(environ={}) == Settings()


def test_named_config_file_must_exist(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(SettingsError, match=r"nope\.toml does not exist"):
        load_settings(missing, environ={})
    with pytest.raises(SettingsError, match=r"nope\.toml does not exist"):
        load_settings(environ={"IDP_CONFIG": str(missing)})


def test_shipped_config_loads_and_matches_the_defaults() -> None:
    """The documented file and the code agree, so the comments describe what actually runs."""
    assert load_settings(SHIPPED, environ={}) == Settings()


def test_shipped_config_documents_every_key() -> None:
    """Every key is in config.toml, under a comment (one comment may cover a group of keys)."""
    present: set[str] = set()
    section, documented = "", False
    for line in SHIPPED.read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            documented = True
        elif not stripped:
            documented = False
        elif header := re.fullmatch(r"\[(\w+)\]", stripped):
            section, documented = header.group(1), False
        else:
            key = f"{section}.{stripped.split('=')[0].strip()}"
            assert documented, f"{key} has no comment in config.toml"
            present.add(key)
    expected = {
        f"{section.name}.{key.name}"
        for section in dataclasses.fields(Settings)
        for key in dataclasses.fields(getattr(Settings(), section.name))
    }
    assert present == expected


def test_environment_overrides_the_file(empty_config: Path) -> None:
    settings = load_settings(
        empty_config,
        environ={
            "IDP_SERVER__PUBLIC_URL": "https://id.example.com",
            "IDP_DATABASE__URL": "postgresql://idp@db/idp",
            "IDP_REDIS__URL": "redis://cache:6379/0",
        },
    )
    assert settings.server.public_url == "https://id.example.com"
    assert settings.database.url == "postgresql://idp@db/idp"
    assert settings.redis.url == "redis://cache:6379/0"


def test_environment_wins_over_config_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[server]\npublic_url = "https://file.example.com"\n')
    assert load_settings(path, environ={}).server.public_url == "https://file.example.com"
    overridden = load_settings(path, environ={"IDP_SERVER__PUBLIC_URL": "https://env.example"})
    assert overridden.server.public_url == "https://env.example"


def test_environment_names_are_case_insensitive(empty_config: Path) -> None:
    settings = load_settings(empty_config, environ={"IDP_logging__LEVEL": "DEBUG"})
    assert settings.logging.level == "DEBUG"


def test_other_idp_variables_are_not_settings(empty_config: Path) -> None:
    """IDP_KEK and IDP_CONFIG have no section separator: they are read elsewhere."""
    assert load_settings(empty_config, environ={"IDP_KEK": "x", "IDP_TEST_X": "y"}) == Settings()


@pytest.mark.parametrize(
    ("text", "expected"), [("1", True), ("true", True), ("Yes", True), ("off", False)]
)
def test_booleans_parse_from_the_environment(empty_config: Path, text: str, expected: bool) -> None:
    settings = load_settings(empty_config, environ={"IDP_SERVER__TRUST_PROXY": text})
    assert settings.server.trust_proxy is expected


def test_integers_parse_from_the_environment(empty_config: Path) -> None:
    settings = load_settings(
        empty_config,
        environ={"IDP_SERVER__MAX_BODY_BYTES": "1024", "IDP_DATABASE__POOL_SIZE": "20"},
    )
    assert settings.server.max_body_bytes == 1024
    assert settings.database.pool_size == 20


@pytest.mark.parametrize(
    ("environ", "key"),
    [
        ({"IDP_NOPE__KEY": "1"}, "nope"),
        ({"IDP_SERVER__NOPE": "1"}, "server.nope"),
        ({"IDP_SERVER__MAX_BODY_BYTES": "lots"}, "server.max_body_bytes"),
        ({"IDP_SERVER__TRUST_PROXY": "maybe"}, "server.trust_proxy"),
        ({"IDP_SERVER__MAX_BODY_BYTES": "0"}, "server.max_body_bytes"),
        ({"IDP_SERVER__PUBLIC_URL": "http://localhost:5000/"}, "server.public_url"),
        ({"IDP_SERVER__PUBLIC_URL": "localhost:5000"}, "server.public_url"),
        ({"IDP_SERVER__REQUEST_ID_HEADER": ""}, "server.request_id_header"),
        ({"IDP_DATABASE__URL": "mysql://db/idp"}, "database.url"),
        ({"IDP_REDIS__URL": "http://cache"}, "redis.url"),
        ({"IDP_TOKENS__SIGNING_ALG": "HS256"}, "tokens.signing_alg"),
        ({"IDP_TOKENS__ACCESS_TOKEN_LIFETIME_SECONDS": "-1"}, "tokens.access_token_lifetime"),
        ({"IDP_KEYS__PUBLISH_DELAY_SECONDS": "5"}, "keys.publish_delay_seconds"),
        ({"IDP_KEYS__KEK_FILE": ""}, "keys.kek_file"),
        ({"IDP_LOGGING__LEVEL": "LOUD"}, "logging.level"),
        ({"IDP_RATE_LIMITS__LOCKOUT_BASE_SECONDS": "0"}, "rate_limits.lockout_base_seconds"),
        ({"IDP_RATE_LIMITS__LOCKOUT_MAX_SECONDS": "30"}, "rate_limits.lockout_max_seconds"),
        ({"IDP_RATE_LIMITS__LOCKOUT_MEMORY_SECONDS": "60"}, "rate_limits.lockout_memory_seconds"),
    ],
)
def test_bad_environment_value_names_the_key(
    empty_config: Path, environ: dict[str, str], key: str
) -> None:
    with pytest.raises(SettingsError, match=re.escape(key)):
        load_settings(empty_config, environ=environ)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[nope]\nkey = 1\n", "nope"),
        ("[server]\nnope = 1\n", "server.nope"),
        ('[server]\nmax_body_bytes = "big"\n', "server.max_body_bytes"),
        ("[server]\nmax_body_bytes = true\n", "server.max_body_bytes"),
        ("[server]\ntrust_proxy = 1\n", "server.trust_proxy"),
        ("[server]\npublic_url = 5000\n", "server.public_url"),
        ('[tokens]\nsigning_alg = "HS256"\n', "tokens.signing_alg"),
        ('[server]\npublic_url = "https://id.example.com/"\n', "server.public_url"),
        ("[keys]\npublish_delay_seconds = 10\n", "keys.publish_delay_seconds"),
        ('server = "x"\n', "server"),
    ],
)
def test_bad_file_value_names_the_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(key)):
        load_settings(write_config(tmp_path, text), environ={})


def test_section_that_is_not_a_table_fails_with_environment_override(tmp_path: Path) -> None:
    path = write_config(tmp_path, 'server = "x"\n')
    with pytest.raises(SettingsError, match="'server' must be a table"):
        load_settings(path, environ={"IDP_SERVER__PUBLIC_URL": "http://a.example"})


def test_malformed_toml_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"config\.toml"):
        load_settings(write_config(tmp_path, "[server\n"), environ={})


def test_settings_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().server.public_url = "http://x"  # type: ignore[misc]


@pytest.mark.parametrize("command", [["serve"], ["migrate"], ["tenants", "list", "--json"]])
def test_cli_refuses_a_bad_setting_in_one_line_naming_the_key(
    tmp_path: Path, command: list[str]
) -> None:
    install = Installation.create(tmp_path, f"sqlite:///{tmp_path / 'idp.sqlite3'}")
    result = install.run(*command, IDP_TOKENS__SIGNING_ALG="HS256")
    assert result.code == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: tokens.signing_alg must be one of")


def test_timeouts_are_seconds_with_fractions_and_refuse_nonsense(empty_config: Path) -> None:
    environ = {
        "IDP_REDIS__COMMAND_TIMEOUT_SECONDS": "0.25",
        "IDP_DATABASE__POOL_TIMEOUT_SECONDS": "3",
    }
    settings = load_settings(empty_config, environ=environ)
    assert settings.redis.command_timeout_seconds == 0.25
    assert settings.database.pool_timeout_seconds == 3.0
    for name, value, key in [
        ("IDP_REDIS__CONNECT_TIMEOUT_SECONDS", "nan", "redis.connect_timeout_seconds"),
        ("IDP_REDIS__COMMAND_TIMEOUT_SECONDS", "0", "redis.command_timeout_seconds"),
        ("IDP_DATABASE__CONNECT_TIMEOUT_SECONDS", "1", "database.connect_timeout_seconds"),
    ]:
        with pytest.raises(SettingsError, match=re.escape(key)):
            load_settings(empty_config, environ={name: value})
