import pytest

from leadstream.errors import BadRequest
from leadstream.pagination import MAX_LIMIT, decode_cursor, encode_cursor, parse_limit


def test_cursor_round_trip() -> None:
    key = {"pk": {"S": "LEAD#1"}, "sk": {"S": "LEAD"}}
    cursor = encode_cursor(key)
    assert cursor is not None
    assert "=" not in cursor
    assert decode_cursor(cursor) == key


@pytest.mark.parametrize("bad", ["not-base64!!", "bnVsbA", "WzFd", "eyJwayI6IDF9"])
def test_bad_cursor_is_a_400(bad: str) -> None:
    with pytest.raises(BadRequest, match="nextCursor"):
        decode_cursor(bad)


@pytest.mark.parametrize(("raw", "limit"), [(None, 50), ("", 50), ("1", 1), (str(MAX_LIMIT), MAX_LIMIT)])
def test_limit(raw: str | None, limit: int) -> None:
    assert parse_limit(raw) == limit


@pytest.mark.parametrize("bad", ["0", "-1", "abc", str(MAX_LIMIT + 1), "1.5"])
def test_bad_limit_is_a_400(bad: str) -> None:
    with pytest.raises(BadRequest, match="limit"):
        parse_limit(bad)
