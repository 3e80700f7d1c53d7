"""Value rules shared by every payload field.

Each rule is applied the same way for SQLite and PostgreSQL, so both
databases receive identical rows:

- text: NUL characters and lone UTF-16 surrogates become U+FFFD, because
  PostgreSQL text and UTF-8 cannot hold them;
- integers (versions, counts, generations): ints, numeric strings and
  integral floats are accepted; booleans, fractions and values outside the
  signed 64-bit range are invalid;
- rewards: numbers and numeric strings; NaN, infinities and magnitudes above
  `REWARD_LIMIT` are stored as NULL because SQLite cannot store NaN and
  views subtract rewards, and -0.0 as 0.0 as SQLite does;
- timestamps: ISO-8601 with any offset (naive means UTC), or epoch seconds or
  milliseconds; stored in UTC with microsecond precision;
- ids (of jobs, candidates, levers, frames and traces) and sensor kinds: at
  most `ID_MAX_CHARACTERS` characters, because they form primary keys.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)

__all__ = [
    "ID_MAX_CHARACTERS",
    "INT64_MAX",
    "INT64_MIN",
    "Identifier",
    "Integer",
    "Reward",
    "Timestamp",
    "clean_text",
    "clean_tree",
    "parse_timestamp",
]

# Rewards and costs beyond this magnitude are stored as NULL, like
# infinities: differences of values near the float range overflow in SQL.
REWARD_LIMIT = 1e15
INT64_MIN = -(2**63)
# A PostgreSQL B-tree entry is at most about 2,700 bytes, and a primary key
# joins up to three ids of up to 4 UTF-8 bytes a character: 3 x 200 x 4 = 2,400.
ID_MAX_CHARACTERS = 200
INT64_MAX = 2**63 - 1

_UNSAFE_CHARACTERS = re.compile("[\x00\ud800-\udfff]")
_INTEGER_TEXT = re.compile(r"[+-]?\d+")
_REPLACEMENT = "\ufffd"


def clean_text(text: str) -> str:
    """Replace NUL and lone surrogates, which PostgreSQL text rejects."""
    if _UNSAFE_CHARACTERS.search(text) is None:
        return text
    return _UNSAFE_CHARACTERS.sub(_REPLACEMENT, text)


def clean_tree(value: Any) -> Any:
    """Apply `clean_text` to every string and map key of a parsed JSON value."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(key)): clean_tree(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clean_tree(item) for item in value]
    return value


def _to_integer(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"expected an integer, got the boolean {str(value).lower()}")
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise ValueError(f"expected an integer, got {value!r}")
        value = int(value)
    elif isinstance(value, str):
        value = _parse_integer_text(value)
    if not isinstance(value, int):
        raise ValueError(f"expected an integer, got {type(value).__name__}")
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(f"integer {value} is outside the signed 64-bit range")
    return value


def _parse_integer_text(text: str) -> int:
    stripped = text.strip()
    if _INTEGER_TEXT.fullmatch(stripped):
        return int(stripped)
    try:
        number = float(stripped)
    except ValueError:
        raise ValueError(f"expected an integer, got the text {text[:40]!r}") from None
    if not math.isfinite(number) or not number.is_integer():
        raise ValueError(f"expected an integer, got the text {text[:40]!r}")
    return int(number)


def _to_reward(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got the boolean {str(value).lower()}")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ValueError(
                f"expected a number, got the text {value[:40]!r}"
            ) from None
    if isinstance(value, int):
        value = float(value)
    if not isinstance(value, float):
        raise ValueError(f"expected a number, got {type(value).__name__}")
    if not math.isfinite(value) or abs(value) > REWARD_LIMIT:
        return None
    # Adding 0.0 turns -0.0 into 0.0, which SQLite would store anyway.
    return value + 0.0


def _reject_boolean_timestamp(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("expected a timestamp, got a boolean")
    return value


def parse_timestamp(value: Any) -> datetime:
    """Parse a timestamp by the rules above; raises ValueError."""
    try:
        parsed: datetime = _TIMESTAMP.validate_python(value)
    except ValidationError as exc:
        raise ValueError(str(exc.errors()[0]["msg"])) from None
    return parsed


def _to_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(
            f"timestamp {value.isoformat()} is out of range in UTC"
        ) from None


Integer = Annotated[int | None, BeforeValidator(_to_integer)]
Identifier = Annotated[str, StringConstraints(max_length=ID_MAX_CHARACTERS)]
Reward = Annotated[float | None, BeforeValidator(_to_reward)]
Timestamp = Annotated[
    datetime, BeforeValidator(_reject_boolean_timestamp), AfterValidator(_to_utc)
]

_TIMESTAMP: TypeAdapter[datetime] = TypeAdapter(Timestamp)
