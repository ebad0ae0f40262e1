"""GET /docs: the OpenAPI description for people, shipped under static/, within the CSP."""

import pytest
from test_admin_browser import Tab, browser  # noqa: F401


def test_the_page_loads_only_our_own_files(client):
    response = client.get("/docs")

    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "<script>" not in response.text  # every script is a file of ours
    assert 'src="/static/swagger-ui/swagger-ui-bundle.js"' in response.text
    assert 'data-spec="/openapi.json"' in response.text
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe" not in policy
    assert client.get("/static/swagger-ui/swagger-ui-bundle.js").status_code == 200


@pytest.mark.slow
def test_chromium_shows_every_operation_without_a_csp_complaint(browser, live_server):  # noqa: F811
    tab = Tab(browser, live_server.url)
    try:
        tab.open("/docs")
        tab.page.wait_for_selector(".opblock")
        described = tab.page.evaluate("fetch('/openapi.json').then(r => r.json())")
        operations = sum(
            1 for item in described["paths"].values() for key in item if key != "parameters"
        )
        assert tab.page.locator(".opblock").count() == operations
        tab.check("docs")
    finally:
        tab.close()
