"""The admin pages in a real browser: Debian's Chromium driven by Playwright,
against the service under a real gunicorn.

Every page visited is also checked at phone width (390 px) for horizontal
scrolling and screenshotted at both widths into tests/artifacts/ (git-ignored),
so a person can look at what the pages show.
"""

import os
import re

import pytest
from conftest import ROOT, LiveServer, http_json, require
from mailserver import reset_link
from playwright.sync_api import expect, sync_playwright

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
# Nothing but the page under test: no updates, sync, or other traffic.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
]
ARTIFACTS = ROOT / "tests" / "artifacts"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
ADMIN = ("root@example.org", "root admin password")
ALICE = ("alice@example.org", "alice's password 1")
ALICE_NEW_PASSWORD = "alice's reset password"


@pytest.fixture(scope="module")
def browser():
    require(os.path.exists(CHROMIUM), f"Debian's chromium ({CHROMIUM})")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


class Tab:
    """One browser page plus the checks every admin page must pass."""

    def __init__(self, browser, base_url):
        self.context = browser.new_context(viewport=DESKTOP)
        self.page = self.context.new_page()
        self.page.set_default_timeout(10_000)
        self.base_url = base_url
        # What a page must never cause: a CSP refusal (inline code) or a
        # broken stylesheet/icon. Error pages themselves (400, 404) are fine.
        self.problems = []
        self.page.on("console", self.note_csp_violation)
        self.page.on("response", self.note_broken_resource)

    def note_csp_violation(self, message):
        if "Content Security Policy" in message.text:
            self.problems.append(message.text)

    def note_broken_resource(self, response):
        if response.status >= 400 and response.request.resource_type != "document":
            self.problems.append(f"{response.status} {response.url}")

    def open(self, path):
        return self.page.goto(self.base_url + path)

    def flashes(self):
        return [text.strip() for text in self.page.locator(".flash").all_inner_texts()]

    def check(self, name):
        """Screenshot at desktop and phone width; no sideways scrolling on the phone."""
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=ARTIFACTS / f"{name}-desktop.png", full_page=True)
        self.page.set_viewport_size(PHONE)
        overflow = self.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        self.page.screenshot(path=ARTIFACTS / f"{name}-phone.png", full_page=True)
        self.page.set_viewport_size(DESKTOP)
        assert overflow <= 0, f"{name}: {overflow}px of horizontal scroll at 390px"
        assert self.problems == [], self.problems

    def wait_for_focus(self, element_id):
        """Until the element with *element_id* has the focus (autofocus after a load).

        Playwright's assertion polls without evaluating a string, which the
        pages' Content-Security-Policy (no 'unsafe-eval') would refuse.
        """
        expect(self.page.locator(f"#{element_id}")).to_be_focused()

    def submit(self, button_name):
        self.click(self.page.get_by_role("button", name=button_name))

    def click(self, locator):
        """Click a link or button and wait for the page it leads to."""
        with self.page.expect_navigation():
            locator.click()

    def close(self):
        self.context.close()


@pytest.fixture
def live_server(tmp_path, database_uri, smtp_server):
    """conftest's gunicorn, but its mail goes to this test's SMTP server."""
    settings = f"MAIL_SERVER = '127.0.0.1'\nMAIL_PORT = {smtp_server.port}\n"
    server = LiveServer(tmp_path, database_uri=database_uri, settings=settings)
    yield server
    server.stop()


@pytest.fixture
def tab(browser, live_server):
    tab = Tab(browser, live_server.url)
    yield tab
    tab.close()


def call(url, method="GET", body=None, token=None):
    """A JSON API call, as a script would make it: (status, JSON body)."""
    status, _, data = http_json(url, method, body, token)
    return status, data


def sign_in(tab, username, password):
    tab.open("/login")
    tab.page.get_by_label("Email address").fill(username)
    tab.page.get_by_label("Password").fill(password)
    tab.submit("Sign in")


def user_row(tab, username):
    return tab.page.locator("tbody tr").filter(has_text=username)


def test_first_admin_manages_users(tab, browser, live_server, smtp_server):
    create_first_admin_and_sign_in(tab)
    create_user_after_a_refusal(tab)
    search_for_the_user(tab)
    link = send_reset_link(tab, smtp_server)
    # Alice opens the emailed link in her own browser, not the admin's.
    alice = Tab(browser, live_server.url)
    try:
        set_password_from_the_link(alice, link)
    finally:
        alice.close()
    assert api_login(live_server, ALICE[0], ALICE_NEW_PASSWORD) == 200
    assert api_login(live_server, *ALICE) == 401  # the old password is gone
    grant_and_revoke_admin(tab)
    delete_with_confirmation(tab)
    visit_own_password_page_and_sign_out(tab)


def create_first_admin_and_sign_in(tab):
    tab.open("/init")
    tab.check("init")
    tab.page.get_by_label("Email address").fill(ADMIN[0])
    tab.page.get_by_label("Password", exact=True).fill(ADMIN[1])
    tab.page.get_by_label("Password again").fill(ADMIN[1])
    tab.submit("Create admin")
    assert tab.page.title() == "Ready · IDM"
    tab.open("/admin")
    assert tab.page.url.endswith("/login")
    assert tab.page.title() == "Sign in · IDM"
    tab.check("login")
    sign_in(tab, *ADMIN)
    assert f"Signed in as {ADMIN[0]}." in tab.flashes()
    assert tab.page.url.endswith("/admin")  # back to the page asked for


def create_user_after_a_refusal(tab):
    tab.click(tab.page.get_by_role("link", name="New user").first)
    assert tab.page.title() == "New user · Admin · IDM"
    tab.page.get_by_label("Email address").fill(ALICE[0])
    tab.page.get_by_label("Password").fill("short")
    tab.submit("Create user")
    assert "password must be at least 8 characters" in tab.flashes()
    assert tab.page.get_by_label("Email address").input_value() == ALICE[0]  # kept
    tab.check("user-new-error")
    tab.page.get_by_label("Password").fill(ALICE[1])
    tab.submit("Create user")
    assert f"Created user {ALICE[0]}." in tab.flashes()
    tab.check("users")


def search_for_the_user(tab):
    tab.page.get_by_label("Search by email address").fill("ALICE")
    tab.submit("Search")
    assert tab.page.locator("tbody tr").count() == 1
    assert "1 user matching “ALICE”" in tab.page.locator(".count").inner_text()
    tab.check("users-search")


def send_reset_link(tab, smtp_server):
    """The admin's "Send reset link"; returns the link from the email Alice gets."""
    tab.click(user_row(tab, ALICE[0]).get_by_role("button", name=f"Send reset link to {ALICE[0]}"))
    assert f"A password reset link is on its way to {ALICE[0]}." in tab.flashes()
    assert tab.page.get_by_label("Search by email address").input_value() == "ALICE"  # list kept
    # The sender thread of the gunicorn worker delivers it; wait for it, up to 30 s.
    [email] = smtp_server.wait_for(1, seconds=30)
    assert email["To"] == ALICE[0]
    link = reset_link(email)
    assert link.startswith(tab.base_url + "/reset?k=")
    return link


def set_password_from_the_link(tab, link):
    tab.page.goto(link)
    assert tab.page.title() == "Choose a new password · IDM"
    assert tab.page.get_by_label("Account").input_value() == ALICE[0]
    tab.check("reset")
    tab.page.get_by_label("New password", exact=True).fill(ALICE_NEW_PASSWORD)
    tab.page.get_by_label("New password again").fill(ALICE_NEW_PASSWORD)
    tab.submit("Set new password")
    assert tab.page.title() == "Password changed · IDM"
    assert f"The password of {ALICE[0]} is changed." in tab.flashes()[0]
    tab.check("reset-done")
    tab.page.goto(link)  # a link works once
    assert tab.page.get_by_label("New password", exact=True).count() == 0
    assert tab.page.get_by_role("link", name="Ask for a new link").count() == 1


def grant_and_revoke_admin(tab):
    tab.click(user_row(tab, ALICE[0]).get_by_role("button", name=f"Make admin {ALICE[0]}"))
    assert f"{ALICE[0]} is now an admin." in tab.flashes()
    assert user_row(tab, ALICE[0]).locator(".badge.admin").count() == 1
    assert tab.page.get_by_label("Search by email address").input_value() == "ALICE"  # list kept
    tab.click(user_row(tab, ALICE[0]).get_by_role("button", name=f"Revoke admin {ALICE[0]}"))
    assert f"{ALICE[0]} is no longer an admin." in tab.flashes()
    tab.open("/admin")
    # Their own rights: a question first, and the last admin keeps them anyway.
    tab.click(user_row(tab, ADMIN[0]).get_by_role("link", name=f"Revoke admin {ADMIN[0]}"))
    assert tab.page.title() == f"Revoke admin rights of {ADMIN[0]} · Admin · IDM"
    tab.submit("Revoke my admin rights")
    assert "cannot remove the last admin; make another user admin first" in tab.flashes()
    tab.check("users-last-admin")


def delete_with_confirmation(tab):
    tab.click(user_row(tab, ALICE[0]).get_by_role("link", name=f"Delete {ALICE[0]}"))
    assert tab.page.title() == f"Delete {ALICE[0]} · Admin · IDM"
    tab.check("user-delete")
    tab.click(tab.page.get_by_role("link", name="Cancel"))
    assert user_row(tab, ALICE[0]).count() == 1  # cancelling deletes nothing
    tab.click(user_row(tab, ALICE[0]).get_by_role("link", name=f"Delete {ALICE[0]}"))
    tab.submit(f"Delete {ALICE[0]}")
    assert f"Deleted {ALICE[0]}." in tab.flashes()
    assert user_row(tab, ALICE[0]).count() == 0


def visit_own_password_page_and_sign_out(tab):
    tab.open("/password")
    assert tab.page.title() == "My password · IDM"
    tab.check("password")
    tab.submit("Sign out")
    assert "You are signed out." in tab.flashes()
    tab.open("/admin")
    assert tab.page.url.endswith("/login")
    tab.click(tab.page.get_by_role("link", name="Forgot your password?"))
    assert tab.page.title() == "Forgot your password? · IDM"
    tab.check("iforgot")


def test_locked_account_is_unlocked_and_the_audit_log_shows_it(tab, live_server):
    live_server.init_admin(*ADMIN)
    token = api_token(live_server, *ADMIN)
    status, _ = call(live_server.url + "/user", "POST", user_body(*ALICE), token)
    assert status == 201
    for _ in range(5):
        assert api_login(live_server, ALICE[0], "a wrong guess") == 401
    assert api_login(live_server, *ALICE) == 429

    sign_in(tab, *ADMIN)
    tab.open("/admin")
    see_the_lock_and_unlock(tab)
    assert api_login(live_server, *ALICE) == 200
    read_the_audit_log(tab)


def api_token(live_server, username, password):
    _, body = call(live_server.url + "/auth", "POST", user_body(username, password))
    return body["access_token"]


def api_login(live_server, username, password):
    status, _ = call(live_server.url + "/auth", "POST", user_body(username, password))
    return status


def user_body(username, password):
    return {"username": username, "password": password}


def see_the_lock_and_unlock(tab):
    assert user_row(tab, ALICE[0]).locator(".badge.locked").count() == 1
    assert user_row(tab, ADMIN[0]).locator(".badge.locked").count() == 0
    tab.check("users-locked")
    tab.click(user_row(tab, ALICE[0]).get_by_role("button", name=f"Unlock {ALICE[0]}"))
    assert f"Unlocked {ALICE[0]}." in tab.flashes()
    assert user_row(tab, ALICE[0]).locator(".badge.locked").count() == 0
    assert tab.page.get_by_role("button", name=f"Unlock {ALICE[0]}").count() == 0


def read_the_audit_log(tab):
    tab.click(tab.page.get_by_role("link", name="Audit log"))
    assert tab.page.title() == "Audit log · Admin · IDM"
    tab.check("audit")
    tab.page.get_by_label("Action").select_option("unlock")
    tab.submit("Filter")
    assert tab.page.title() == "Audit log (unlock) · Admin · IDM"
    rows = tab.page.locator("tbody tr")
    assert rows.count() == 1
    assert rows.locator("[data-label=Actor]").inner_text() == ADMIN[0]
    assert rows.locator("[data-label=Target]").inner_text() == ALICE[0]
    agent = rows.locator("[data-label='User agent']")
    assert "HeadlessChrome" in agent.get_attribute("title")
    # Chromium's user agent is longer than the column shows: whole on hover.
    assert agent.inner_text().endswith("…")
    assert agent.get_attribute("title").startswith(agent.inner_text()[:-1])
    tab.check("audit-unlock")
    tab.page.get_by_label("User (address or id)").fill(ALICE[0])
    tab.page.get_by_label("Action").select_option("")
    tab.submit("Filter")
    outcomes = tab.page.locator("tbody [data-label=Outcome]").all_inner_texts()
    words = ["OK", "OK", "Account locked"] + ["Failed"] * 5 + ["OK"]
    assert [text.strip() for text in outcomes] == words
    tab.check("audit-alice")


def test_form_posted_without_its_csrf_token_fails(tab, live_server):
    live_server.init_admin(*ADMIN)
    sign_in(tab, *ADMIN)
    tab.open("/admin/users/new")
    tab.page.get_by_label("Email address").fill(ALICE[0])
    tab.page.get_by_label("Password").fill(ALICE[1])
    tab.page.evaluate("document.querySelector('main form input[name=csrf_token]').remove()")
    with tab.page.expect_navigation() as navigation:
        tab.page.get_by_role("button", name="Create user").click()
    assert navigation.value.status == 400
    assert "The CSRF token is missing." in tab.flashes()
    tab.check("csrf-error")
    status, _ = call(
        live_server.url + "/auth", "POST", {"username": ALICE[0], "password": ALICE[1]}
    )
    assert status == 401  # nothing was created


def test_session_ends_when_the_password_changes_elsewhere(tab, live_server):
    live_server.init_admin(*ADMIN)
    # Sign in with the keyboard alone: the form has focus, Tab moves, Enter submits.
    tab.open("/login")
    tab.wait_for_focus("username")  # autofocus
    tab.page.keyboard.type(ADMIN[0])
    tab.page.keyboard.press("Tab")
    tab.page.keyboard.type(ADMIN[1])
    with tab.page.expect_navigation():
        tab.page.keyboard.press("Enter")
    assert tab.page.title() == "Subjects · IDM", tab.flashes()

    _, body = call(live_server.url + "/auth", "POST", {"username": ADMIN[0], "password": ADMIN[1]})
    _, me = call(live_server.url + "/user/me", token=body["access_token"])
    change = {"password": "changed by a script", "current_password": ADMIN[1]}
    status, _ = call(
        live_server.url + f"/user/{me['data']['id']}", "PUT", change, body["access_token"]
    )
    assert status == 200

    tab.page.reload()
    assert tab.page.url.endswith("/login")
    assert "Signed out: your password was changed. Sign in again." in tab.flashes()
    tab.check("signed-out")


def test_skip_link_is_the_first_stop_for_the_keyboard(tab, live_server):
    live_server.init_admin(*ADMIN)
    sign_in(tab, *ADMIN)
    tab.page.keyboard.press("Tab")
    focused = tab.page.evaluate("document.activeElement.textContent")
    assert focused == "Skip to content"
    assert re.fullmatch(
        r"rgb\(\d+, \d+, \d+\)",
        tab.page.evaluate("getComputedStyle(document.activeElement).outlineColor"),
    )


def test_long_addresses_fit_on_a_phone(tab, live_server):
    live_server.init_admin(*ADMIN)
    _, body = call(live_server.url + "/auth", "POST", {"username": ADMIN[0], "password": ADMIN[1]})
    long_name = "a.rather-long-mailbox-name-" + "x" * 40 + "@accounts.example.org"
    status, created = call(
        live_server.url + "/user",
        "POST",
        {"username": long_name, "password": ALICE[1]},
        body["access_token"],
    )
    assert status == 201
    sign_in(tab, *ADMIN)
    tab.open("/admin")
    tab.check("users-long-name")
    tab.open(f"/admin/users/{created['data']['id']}/delete")
    tab.check("user-delete-long-name")
    tab.open(f"/admin/users/{created['data']['id']}")
    tab.check("user-long-name")
    tab.open(f"/admin/users/{created['data']['id']}/password")
    tab.check("user-password-long-name")
    tab.open("/admin/audit")
    tab.check("audit-long-name")
