"""`leadstream source add` / `form add` configure a stack through the same store code the functions use."""

from __future__ import annotations

import json
from typing import Any

import pytest

from leadstream_local.cli import main
from tracking.store.sources import form_by_id, source_by_write_key


def test_source_add_creates_a_source_with_a_fresh_write_key(
    aws: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            [
                "source",
                "add",
                "--table",
                "MainTable",
                "--name",
                "Website",
                "--origin",
                "https://www.example.com",
            ]
        )
        == 0
    )
    printed = json.loads(capsys.readouterr().out)
    assert len(printed["writeKey"]) >= 24
    source = source_by_write_key(printed["writeKey"])
    assert source is not None
    assert source.name == "Website"
    assert source.allowed_origins == ["https://www.example.com"]
    assert source.allows_origin("https://www.example.com")
    assert not source.allows_origin("https://evil.example")


def test_form_add_creates_a_form(aws: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "form",
                "add",
                "--table",
                "MainTable",
                "--source",
                "src-1",
                "--form-id",
                "demo",
                "--name",
                "Book a demo",
                "--thank-you-url",
                "https://www.example.com/thanks",
                "--hand-raiser",
            ]
        )
        == 0
    )
    form = form_by_id("demo")
    assert form is not None
    assert form.hand_raiser
    assert str(form.thank_you_url) == "https://www.example.com/thanks"
    assert json.loads(capsys.readouterr().out)["formId"] == "demo"


def test_form_add_refuses_a_bad_url(aws: Any, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["form", "add", "--table", "MainTable", "--source", "s", "--form-id", "f", "--name", "n"]
    assert main([*argv, "--thank-you-url", "not a url"]) == 2
    assert "thankYouUrl" in capsys.readouterr().err
    assert form_by_id("f") is None
