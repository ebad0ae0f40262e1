"""Every user's pages and the admin console's additions in a real browser:
Debian's Chromium through Playwright, against gunicorn on SQLite and PostgreSQL.

A plain user signs in and finds no user management; an admin opens a user's
page, sets their password, signs them out everywhere (while the user's own
browser is open), revokes their own admin rights only after a question,
changes the users list's page size and filters the audit log. Parts of each
story are done with the keyboard alone, and every page visited is checked
at 390 px for sideways scrolling (Tab.check, in test_admin_browser.py).
"""

import pytest
import test_admin_browser
from test_admin_browser import ADMIN, ALICE, Tab, api_token, call, sign_in, user_body, user_row

pytestmark = pytest.mark.slow

# The fixtures of the admin pages' browser tests: Chromium, a tab, gunicorn.
browser = test_admin_browser.browser
live_server = test_admin_browser.live_server
tab = test_admin_browser.tab

ALICE_SET_BY_ADMIN = "set by the admin 1"
BOB = ("bob@example.org", "bob's admin password")


def create(live_server, token, username, password, admin=False):
    body = {"username": username, "password": password, "admin": admin}
    status, created = call(live_server.url + "/user", "POST", body, token)
    assert status == 201, created
    return created["data"]["id"]


def tab_to(tab, locator, limit=80):
    """Press Tab until *locator* has the focus: proof that the keyboard reaches it."""
    target = locator.element_handle()
    for _ in range(limit):
        tab.page.keyboard.press("Tab")
        if tab.page.evaluate("(element) => document.activeElement === element", target):
            return
    raise AssertionError(f"Tab never reached {locator}")


def press_enter(tab):
    with tab.page.expect_navigation():
        tab.page.keyboard.press("Enter")


def nav_links(tab):
    return [text.strip() for text in tab.page.locator("nav.admin-nav a").all_inner_texts()]


def test_a_plain_user_signs_in_and_finds_no_user_management(tab, live_server):
    live_server.init_admin(*ADMIN)
    create(live_server, api_token(live_server, *ADMIN), *ALICE)

    # The keyboard alone: the address has the focus, Tab moves, Enter submits.
    tab.open("/admin/audit")
    assert tab.page.url.endswith("/login")
    tab.wait_for_focus("username")
    tab.page.keyboard.type(ALICE[0])
    tab.page.keyboard.press("Tab")
    tab.page.keyboard.type(ALICE[1])
    press_enter(tab)

    # Back to the page asked for, which is not hers: a 403 page, not a loop.
    assert tab.page.url.endswith("/admin/audit")
    assert "admin rights required" in tab.flashes()
    assert nav_links(tab) == ["Subjects", "My account", "My password"]
    tab.check("forbidden")
    tab.click(tab.page.get_by_role("link", name="Back to the subjects list"))
    assert tab.page.title() == "Subjects · IDM"
    tab.click(tab.page.get_by_role("link", name="My account"))
    assert tab.page.title() == "My account · IDM"
    assert tab.page.get_by_role("link", name="Users").count() == 0
    assert tab.page.get_by_role("link", name="Audit log").count() == 0
    tab.check("account")
    with tab.page.expect_navigation() as navigation:
        tab.open("/admin")
    assert navigation.value.status == 403

    tab.open("/password")
    assert tab.page.title() == "My password · IDM"
    tab.check("account-password")
    tab.submit("Sign out")
    assert tab.page.url.endswith("/login")


def test_a_sign_in_posted_to_the_old_address_still_signs_in(tab, live_server):
    """A sign-in page opened before the move posts to /admin/login; the 308
    makes Chromium post the same form, CSRF token included, to /login."""
    live_server.init_admin(*ADMIN)
    tab.open("/login")
    tab.page.evaluate("document.querySelector('main form').action = '/admin/login'")
    tab.page.get_by_label("Email address").fill(ADMIN[0])
    tab.page.get_by_label("Password").fill(ADMIN[1])
    tab.submit("Sign in")
    assert tab.page.title() == "Subjects · IDM"  # where everyone lands
    assert f"Signed in as {ADMIN[0]}." in tab.flashes()


def test_an_admin_takes_care_of_a_user_from_their_page(tab, browser, live_server):
    live_server.init_admin(*ADMIN)
    alice_id = create(live_server, api_token(live_server, *ADMIN), *ALICE)
    alice = Tab(browser, live_server.url)  # Alice's own browser, signed in meanwhile
    try:
        sign_in(alice, *ALICE)
        assert alice.page.title() == "Subjects · IDM"
        sign_in(tab, *ADMIN)
        tab.open("/admin")
        open_alices_page(tab, alice_id)
        set_alices_password_with_the_keyboard(tab)
        alice.page.reload()
        assert alice.page.url.endswith("/login")
        assert "Signed out: your password was changed. Sign in again." in alice.flashes()

        sign_in(alice, ALICE[0], ALICE_SET_BY_ADMIN)
        assert alice.page.title() == "Subjects · IDM"
        token = api_token(live_server, ALICE[0], ALICE_SET_BY_ADMIN)
        sign_alice_out_everywhere(tab)
        alice.page.reload()
        assert alice.page.url.endswith("/login")
        assert "Signed out: you were signed out everywhere. Sign in again." in alice.flashes()
        assert call(live_server.url + "/user/me", token=token)[0] == 401
    finally:
        alice.close()


def open_alices_page(tab, alice_id):
    tab.click(user_row(tab, ALICE[0]).get_by_role("link", name=ALICE[0], exact=True))
    assert tab.page.url.endswith(f"/admin/users/{alice_id}")
    assert tab.page.title() == f"{ALICE[0]} · Admin · IDM"
    facts = tab.page.locator("dl.facts")
    assert "Admin" in facts.inner_text() and "Failed logins" in facts.inner_text()
    assert "1 signed-in browser on these pages" in tab.page.locator("#sessions + p").inner_text()
    assert tab.page.locator("table.audit tbody tr").count() == 2  # her creation and sign-in
    tab.check("user")


def set_alices_password_with_the_keyboard(tab):
    tab_to(tab, tab.page.get_by_role("link", name=f"Set password of {ALICE[0]}"))
    press_enter(tab)
    assert tab.page.title() == f"Set the password of {ALICE[0]} · Admin · IDM"
    tab.wait_for_focus("password")  # autofocus
    tab.page.keyboard.type(ALICE_SET_BY_ADMIN)
    tab.page.keyboard.press("Tab")
    tab.page.keyboard.type("not the same")
    press_enter(tab)
    assert "the two passwords do not match" in tab.flashes()
    tab.check("user-password-error")
    tab.page.get_by_label("New password", exact=True).fill(ALICE_SET_BY_ADMIN)
    tab.page.get_by_label("New password again").fill(ALICE_SET_BY_ADMIN)
    tab.submit("Set password")
    message = f"Set a new password for {ALICE[0]}; their sessions and tokens ended."
    assert message in tab.flashes()
    assert (
        "not signed in to these pages anywhere"
        in tab.page.locator("#sessions + p + p").inner_text()
    )


def sign_alice_out_everywhere(tab):
    tab.page.reload()
    assert "1 signed-in browser" in tab.page.locator("#sessions + p").inner_text()
    tab_to(tab, tab.page.get_by_role("button", name=f"Sign out everywhere {ALICE[0]}"))
    press_enter(tab)
    message = f"Signed {ALICE[0]} out everywhere: every token and session ended."
    assert message in tab.flashes()
    actions = tab.page.locator("table.audit tbody [data-label=Action]").all_inner_texts()
    assert actions[0] == "logout"


def test_an_admin_revokes_their_own_rights_only_after_confirming(tab, browser, live_server):
    live_server.init_admin(*ADMIN)
    create(live_server, api_token(live_server, *ADMIN), *BOB, admin=True)
    elsewhere = Tab(browser, live_server.url)  # the same admin in another browser
    try:
        sign_in(elsewhere, *ADMIN)
        sign_in(tab, *ADMIN)
        tab.open("/admin")
        tab.page.get_by_label("Search by email address").fill("root")
        tab.submit("Search")

        # The keyboard alone: to the link, the question, and Cancel.
        tab_to(tab, user_row(tab, ADMIN[0]).get_by_role("link", name=f"Revoke admin {ADMIN[0]}"))
        press_enter(tab)
        assert tab.page.get_by_role("heading", name="Revoke your own admin rights?").count() == 1
        tab.check("user-revoke-own")
        tab_to(tab, tab.page.get_by_role("link", name="Cancel"))
        press_enter(tab)
        assert tab.page.get_by_label("Search by email address").input_value() == "root"
        assert user_row(tab, ADMIN[0]).locator(".badge.admin").count() == 1  # nothing changed

        tab.click(user_row(tab, ADMIN[0]).get_by_role("link", name=f"Revoke admin {ADMIN[0]}"))
        tab_to(tab, tab.page.get_by_role("button", name="Revoke my admin rights"))
        press_enter(tab)
        assert tab.page.title() == "My account · IDM"
        assert "You are no longer an admin. Your other sessions are signed out." in tab.flashes()
        assert nav_links(tab) == ["Subjects", "My account", "My password"]
        elsewhere.page.reload()
        assert "Signed out: you are no longer an admin. Sign in again." in elsewhere.flashes()
    finally:
        elsewhere.close()


def test_an_admin_chooses_the_page_size(tab, live_server):
    live_server.init_admin(*ADMIN)
    token = api_token(live_server, *ADMIN)
    for number in range(30):
        create(live_server, token, f"staff{number:02}@example.org", "staff password 1")
    sign_in(tab, *ADMIN)
    tab.open("/admin")
    assert tab.page.locator("tbody tr").count() == 20  # IDM_USERS_PER_PAGE

    # The keyboard alone: to the list, a size, Show.
    tab_to(tab, tab.page.get_by_label("Users per page"))
    tab.page.keyboard.press("ArrowUp")  # from 20 to 10
    tab.page.keyboard.press("Tab")
    press_enter(tab)
    assert tab.page.locator("tbody tr").count() == 10
    assert tab.page.get_by_label("Users per page").input_value() == "10"
    tab.check("users-perpage")

    tab.click(tab.page.get_by_role("link", name="Next →"))
    assert "Page 2 of 4" in tab.page.locator("nav.pages").inner_text()
    assert tab.page.locator("tbody tr").count() == 10
    tab.page.get_by_label("Search by email address").fill("staff2")
    tab.submit("Search")
    assert tab.page.locator("tbody tr").count() == 10  # staff20..29, at 10 a page
    tab.page.get_by_label("Users per page").select_option("25")
    tab.submit("Show")
    assert tab.page.get_by_label("Search by email address").input_value() == "staff2"
    assert tab.page.locator("tbody tr").count() == 10  # all of them on one page now
    assert tab.page.locator("nav.pages").count() == 0


def test_the_audit_log_in_words_by_day_and_outcome(tab, live_server):
    live_server.init_admin(*ADMIN)
    token = api_token(live_server, *ADMIN)
    bob_id = create(live_server, token, *BOB, admin=True)
    create(live_server, api_token(live_server, *BOB), *ALICE)  # Bob acts
    assert call(live_server.url + f"/user/{bob_id}", "DELETE", token=token)[0] == 204
    call(live_server.url + "/auth", "POST", user_body(ALICE[0], "a wrong guess"))
    sign_in(tab, *ADMIN)

    tab.click(tab.page.get_by_role("link", name="Audit log"))
    today = tab.page.locator("tbody time").first.get_attribute("datetime")[:10]
    tab.page.get_by_label("Since (UTC day)").fill(today)
    tab.page.get_by_label("Until (UTC day)").fill(today)
    tab.page.get_by_label("Action").select_option("user.create")
    tab.submit("Filter")
    rows = tab.page.locator("tbody tr")
    # Bob is deleted: the row shows the address he had, not an id.
    created_alice = rows.filter(has_text=ALICE[0])
    assert created_alice.locator("[data-label=Actor]").inner_text() == f"{BOB[0]} (deleted)"
    assert tab.page.get_by_label("Since (UTC day)").input_value() == today
    tab.check("audit-days")

    tab.page.get_by_label("Action").select_option("")
    tab.page.get_by_label("Outcome").select_option("failed")
    tab.submit("Filter")
    assert rows.count() == 1
    assert rows.locator("[data-label=Outcome]").inner_text() == "Failed"
    assert tab.page.title() == f"Audit log (Failed, since {today}, until {today}) · Admin · IDM"
    tab.check("audit-failed")
