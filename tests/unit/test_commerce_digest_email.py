"""The daily digest's email: sections, ordering, escaping, and the closing window."""

from __future__ import annotations

from datetime import date

from crm.commerce.digest import Digest, DigestItem, Owner, closing_window, render

TODAY = date(2026, 3, 2)
OWNER = Owner(user_id="sub-1", email="ann@example.com", name="Ann")


def test_the_closing_window_is_today_and_the_six_days_after() -> None:
    assert closing_window(TODAY) == (TODAY, date(2026, 3, 8))


def test_an_owner_with_nothing_to_do_has_an_empty_digest() -> None:
    assert Digest(owner=OWNER, day=TODAY).is_empty


def test_the_email_lists_each_section_in_date_order() -> None:
    digest = Digest(
        owner=OWNER,
        day=TODAY,
        tasks_due=[
            DigestItem("t2", "Send proposal", date(2026, 3, 2)),
            DigestItem("t1", "Call back", date(2026, 2, 27), "overdue"),
        ],
        deals_closing=[DigestItem("d1", "Acme <expansion>", date(2026, 3, 5), "EUR 5000.00")],
    )
    email = render(digest)
    assert email.subject == "Leadstream 2026-03-02: 2 tasks due, 1 deal closing"
    assert email.text.index("Call back") < email.text.index("Send proposal")
    assert "- Acme <expansion> (EUR 5000.00), closes 2026-03-05" in email.text
    assert "Contracts up for renewal" not in email.text
    assert "Acme &lt;expansion&gt;" in email.html
    assert "<expansion>" not in email.html
