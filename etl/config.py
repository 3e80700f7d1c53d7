"""Settings from the environment and `.env`; command-line flags override them."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from etl.errors import ConfigurationError

__all__ = ["DEFAULT_BACKEND_URL", "DEFAULT_DATABASE_URL", "Settings", "load_settings"]

DEFAULT_BACKEND_URL = "https://api.usesynth.ai"
DEFAULT_DATABASE_URL = "sqlite:///synth_results.db"


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    """Every setting of a run. Durations are in seconds."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    api_key: SecretStr | None = Field(
        default=None, validation_alias=_env("SYNTH_API_KEY")
    )
    api_key_file: Path | None = Field(
        default=None, validation_alias=_env("SYNTH_API_KEY_FILE")
    )
    backend_url: str = Field(
        default=DEFAULT_BACKEND_URL, validation_alias=_env("SYNTH_BACKEND_URL")
    )
    database_url: str = Field(
        default=DEFAULT_DATABASE_URL, validation_alias=_env("ETL_DATABASE_URL")
    )
    connect_timeout: float = Field(
        default=10.0, gt=0, validation_alias=_env("ETL_CONNECT_TIMEOUT")
    )
    read_timeout: float = Field(
        default=60.0, gt=0, validation_alias=_env("ETL_READ_TIMEOUT")
    )
    concurrency: int = Field(
        default=8, ge=1, le=256, validation_alias=_env("ETL_CONCURRENCY")
    )
    max_attempts: int = Field(
        default=5, ge=1, le=100, validation_alias=_env("ETL_MAX_ATTEMPTS")
    )
    retry_max_wait: float = Field(
        default=60.0, ge=0, validation_alias=_env("ETL_RETRY_MAX_WAIT")
    )
    request_timeout: float = Field(
        default=300.0, gt=0, validation_alias=_env("ETL_REQUEST_TIMEOUT")
    )
    max_body_mb: float = Field(
        default=256.0, gt=0, validation_alias=_env("ETL_MAX_BODY_MB")
    )
    ca_bundle: Path | None = Field(default=None, validation_alias=_env("ETL_CA_BUNDLE"))
    listing_style: Literal["offset", "cursor"] = Field(
        default="offset", validation_alias=_env("ETL_LISTING_STYLE")
    )

    @field_validator("api_key_file", "ca_bundle", mode="before")
    @classmethod
    def _empty_path_is_unset(cls, value: Any) -> Any:
        """Treat `VAR=` in the environment or `.env` as not set."""
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("backend_url")
    @classmethod
    def _strip_api_suffix(cls, value: str) -> str:
        """Accept a base URL ending in `/api` or `/api/v1`, as Synth's SDKs do."""
        url = value.strip().rstrip("/")
        for suffix in ("/api/v1", "/api"):
            if url.endswith(suffix):
                url = url[: -len(suffix)]
        if not url.startswith(("http://", "https://")):
            raise ValueError(
                f"SYNTH_BACKEND_URL must start with http:// or https://, got {value!r}"
            )
        if "@" in url.split("://", 1)[1].split("/", 1)[0]:
            raise ValueError(
                "SYNTH_BACKEND_URL must not contain a user name or password; "
                "the API key comes from SYNTH_API_KEY"
            )
        return url

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        try:
            url = make_url(value)
        except ArgumentError as exc:
            raise ValueError(
                "ETL_DATABASE_URL is not a SQLAlchemy URL; use a form such as "
                "sqlite:///synth_results.db or postgresql+psycopg://user@host/db"
            ) from exc
        except ValueError:
            # SQLAlchemy raises ValueError for a port that is not a number.
            raise ValueError(
                "ETL_DATABASE_URL has a port that is not a number; use a form "
                "such as postgresql+psycopg://user@host:5432/db"
            ) from None
        backend = url.get_backend_name()
        if backend == "postgres":
            raise ValueError(
                "ETL_DATABASE_URL starts with postgres://, which SQLAlchemy does "
                "not accept; write postgresql+psycopg:// instead"
            )
        if backend not in ("sqlite", "postgresql"):
            raise ValueError(
                f"ETL_DATABASE_URL names the {backend!r} database; "
                "only sqlite and postgresql are supported"
            )
        return value

    @property
    def max_body_bytes(self) -> int:
        """The largest response body accepted, in bytes."""
        return int(self.max_body_mb * 1024 * 1024)

    def require_api_key(self) -> str:
        """Return the API key from SYNTH_API_KEY or the file SYNTH_API_KEY_FILE."""
        key = self.api_key.get_secret_value().strip() if self.api_key else ""
        if key:
            return _checked_key(key, "SYNTH_API_KEY")
        if self.api_key_file is not None:
            origin = f"the {_key_file_label(self.api_key_file)}"
            return _checked_key(_read_key_file(self.api_key_file), origin)
        raise ConfigurationError(
            "No Synth API key is set. Set SYNTH_API_KEY, or SYNTH_API_KEY_FILE "
            "to a file that contains the key, in the environment or in .env."
        )


def _key_file_label(path: Path) -> str:
    """Name the key file in messages, without an article."""
    return f"API key file {str(path)!r} named by SYNTH_API_KEY_FILE or --api-key-file"


def _read_key_file(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            content = handle.read(_KEY_FILE_MAX_BYTES + 1)
        if len(content) > _KEY_FILE_MAX_BYTES:
            raise ConfigurationError(
                f"The {_key_file_label(path)} is larger than "
                f"{_KEY_FILE_MAX_BYTES // 1024} KB; it should contain only the key."
            )
        key = content.decode("utf-8").strip()
    except OSError as exc:
        raise ConfigurationError(
            f"Cannot read the {_key_file_label(path)}: {exc.strerror}. Check the path "
            "and permissions."
        ) from exc
    except UnicodeDecodeError:
        raise ConfigurationError(
            f"The {_key_file_label(path)} is not UTF-8 text. Save the key "
            "in it as plain text."
        ) from None
    if not key:
        raise ConfigurationError(f"The {_key_file_label(path)} is empty.")
    return key


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment and `.env`, then apply CLI overrides.

    Overrides whose value is None are ignored, so unset flags keep the
    environment's value.
    """
    set_flags = {name: value for name, value in overrides.items() if value is not None}
    try:
        settings = Settings()
        if not set_flags:
            return settings
        merged = settings.model_dump() | set_flags
        return Settings.model_validate(
            {_alias_of(name): value for name, value in merged.items()}
        )
    except ValidationError as exc:
        raise ConfigurationError(_describe_validation_error(exc)) from None


def _alias_of(name: str) -> str:
    alias = Settings.model_fields[name].validation_alias
    assert isinstance(alias, AliasChoices)
    first = alias.choices[0]
    assert isinstance(first, str)
    return first


# Command-line flags that set a variable, named in errors beside it.
_FLAGS = {
    "SYNTH_API_KEY_FILE": "--api-key-file",
    "SYNTH_BACKEND_URL": "--backend-url",
    "ETL_DATABASE_URL": "--database-url",
    "ETL_CONCURRENCY": "--concurrency",
    "ETL_CONNECT_TIMEOUT": "--connect-timeout",
    "ETL_READ_TIMEOUT": "--read-timeout",
    "ETL_LISTING_STYLE": "--listing-style",
}


def _describe_validation_error(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        location = ".".join(str(part) for part in error["loc"])
        if location in _FLAGS:
            location = f"{location} ({_FLAGS[location]})"
        message = error["msg"].removeprefix("Value error, ")
        problems.append(f"{location}: {message}")
    return "Invalid configuration: " + "; ".join(problems) + "."


# A key file is read only up to this size, so that a wrong path such as
# /dev/zero fails at once.
_KEY_FILE_MAX_BYTES = 64 * 1024


def _checked_key(key: str, origin: str) -> str:
    """Return the key if an HTTP header can carry it; the error never shows it."""
    for position, character in enumerate(key, start=1):
        if "!" <= character <= "~":
            continue
        if character in "\r\n":
            kind = "a line break"
        elif character == "\t":
            kind = "a tab"
        elif character == "\ufeff":
            kind = "a byte order mark (save the file as UTF-8 without BOM)"
        elif character.isspace():
            kind = "a space"
        elif character.isascii():
            kind = "a control character"
        else:
            kind = "a character outside ASCII"
        raise ConfigurationError(
            f"The API key from {origin} contains {kind} at position {position}, "
            "which an HTTP header cannot carry. Check that it contains only the "
            "key, on one line."
        )
    return key
