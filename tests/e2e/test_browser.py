"""A person's journey through the admin in a real browser (Playwright driving Debian's Chromium).

Log in, write a mailing while its preview follows, create a campaign, trigger it over the API, find the send
in the admin, re-trigger it, and see the dashboard change. Screenshots of the key pages are kept: under
docs/screenshots/ with `make screenshots` (HERALD_SCREENSHOTS=docs/screenshots), in the test's own folder
otherwise.
"""

import os
import shutil
from pathlib import Path

import pytest
import requests
from django.db import connections

from orgs.services import org_create
from sends.models import Send
from tests.e2e.conftest import ROOT, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 900}

# In CI both must be there (.ci/run installs Chromium, make install playwright): a missing one fails there.
# Elsewhere the test says what is missing and is skipped.
if os.environ.get("CI"):
    from playwright import sync_api
else:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (make install)")
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed: apt-get install -y chromium", allow_module_level=True)


@pytest.fixture
def browser(monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are still synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
        # The test's queries ran inside Playwright's event loop, on connections of that context: close
        # them here, or they keep the test database from being dropped.
        connections.close_all()


@pytest.fixture
def shots(tmp_path):
    folder = Path(os.environ.get("HERALD_SCREENSHOTS") or tmp_path / "screenshots")
    folder = folder if folder.is_absolute() else ROOT / folder
    folder.mkdir(parents=True, exist_ok=True)

    def shot(page, name: str, *, full_page: bool = True, element: str = "") -> None:
        path = str(folder / f"{name}.png")
        if element:  # Chromium leaves sandboxed frames unpainted in a full-page capture
            page.locator(element).first.screenshot(path=path)
        else:
            page.screenshot(path=path, full_page=full_page)

    return shot


def fits(page, selector: str, width: int) -> bool:
    box = page.locator(selector).first.bounding_box()
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width + 1


def assert_fits(page, selector: str, width: int) -> None:
    # The layout settles after a click (the preview frame is replaced on each update): give it a moment.
    wait_for(lambda: fits(page, selector, width), timeout=10, what=f"{selector} to fit {width} px")


@pytest.fixture
def server(live_server, monkeypatch):
    # The live server answers each connection in a thread of its own: a persistent database connection
    # would outlive the thread and keep the test database from being dropped.
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    return live_server


def test_a_marketer_and_support_through_the_admin(
    server, worker, browser, shots, settings, django_user_model
):
    live_server = server
    settings.HERALD_DASHBOARD_CACHE_SECONDS = 0
    org, token = org_create(name="Acme Shop")
    django_user_model.objects.create_superuser("staff", "staff@example.com", "a long passphrase")
    worker.start()
    page = browser.new_page(viewport=DESKTOP)
    page.set_default_timeout(15_000)
    expect = sync_api.expect

    # Log in.
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "staff")
    page.fill("#id_password", "a long passphrase")
    page.click("input[type=submit]")
    expect(page.locator("#herald-dashboard")).to_be_visible()
    expect(page.locator(".herald-failures")).to_contain_text("No sends yet.")

    # A mailing, its preview following each edit before anything is saved.
    page.goto(f"{live_server.url}/admin/mailings/mailing/add/")
    page.select_option("#id_org", label="Acme Shop")
    page.fill("#id_name", "Order confirmation")
    page.fill("#id_from_email", "shop@example.com")
    page.fill("#id_sample_context", '{"order_number": "A-1001"}')
    page.fill("#id_translations", '{"de": {"subject": "Bestellung {{ context.order_number }} bestätigt"}}')
    page.fill("#id_subject", "Order {{ context.order_number }} confirmed")
    page.fill("#id_text", "Hello {{ recipient.first_name }}, thanks for order {{ context.order_number }}.")
    page.fill(
        "#id_html",
        "<h1>Thank you, {{ recipient.first_name }}</h1>\n<p>Order <b>{{ context.order_number }}</b>.</p>",
    )
    preview = page.locator(".herald-preview")
    expect(preview.locator(".herald-preview-subject")).to_have_text("Order A-1001 confirmed")
    frame = page.frame_locator(".herald-preview-html")
    expect(frame.locator("h1")).to_have_text("Thank you, Ada")
    shots(page, "mailing-preview", element="fieldset:has(.herald-preview)")

    preview.locator(".herald-preview-locale").select_option("de")
    expect(preview.locator(".herald-preview-subject")).to_have_text("Bestellung A-1001 bestätigt")
    preview.locator("[data-part=text]").click()
    expect(preview.locator(".herald-preview-text")).to_have_text("Hello Ada, thanks for order A-1001.")
    preview.locator("[data-part=html]").click()
    preview.locator("[data-width=mobile]").click()
    assert page.locator(".herald-preview-html").bounding_box()["width"] <= 376

    page.fill("#id_html", "<h1>Thank you</h1>\n{% if %}")
    expect(preview.locator(".herald-preview-problems")).to_contain_text("Template error in html (en), line 2")
    expect(page.locator(".field-html .herald-live-error")).to_contain_text("line 2")  # under the field too
    page.locator(".field-html").scroll_into_view_if_needed()
    shots(page, "mailing-template-error", full_page=False)
    page.fill("#id_html", "<h1>Thank you, {{ recipient.first_name }}</h1>")
    expect(preview.locator(".herald-preview-problems li")).to_have_count(0)
    expect(page.locator(".herald-live-error")).to_have_count(0)
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")

    # A campaign that sends it, and how to call it.
    page.goto(f"{live_server.url}/admin/campaigns/campaign/add/")
    page.select_option("#id_org", label="Acme Shop")
    page.fill("#id_key", "order-completed")
    page.fill("#id_name", "Order completed")
    page.click("#id_email_mailing + .select2 .select2-selection")
    page.fill(".select2-search__field", "Order")
    page.click(".select2-results__option >> text=Order confirmation")
    page.click("input[name=_continue]")
    expect(page.locator("#how-to-call")).to_contain_text("/api/v1/campaigns/order-completed/trigger/")
    shots(page, "campaign-how-to-call")

    # The application triggers it; a real worker sends it.
    response = requests.post(
        f"{live_server.url}/api/v1/campaigns/order-completed/trigger/",
        json={
            "recipients": [{"email": "ann@example.com", "first_name": "Ann"}],
            "context": {"order_number": "B-7"},
        },
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 202, response.text
    wait_for(lambda: Send.objects.filter(status="sent").count() == 1, what="the send sent", log=worker.log)

    # Support finds it by the address the customer gives, and sees what was sent.
    page.goto(f"{live_server.url}/admin/sends/send/")
    page.fill("#searchbar", "Ann@Example.com")
    page.press("#searchbar", "Enter")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    page.click("#result_list tbody tr th a")
    expect(page.locator(".herald-timeline")).to_contain_text("Handed to the provider")
    expect(page.frame_locator("iframe.herald-framed").locator("h1")).to_have_text("Thank you, Ann")
    shots(page, "send-detail")

    # ... and re-triggers it, after being told how many will go.
    page.goto(f"{live_server.url}/admin/sends/send/?q=ann@example.com")
    page.check("#result_list tbody tr input.action-select")
    page.select_option("select[name=action]", "retrigger")
    page.click("button[name=index]")
    expect(page.locator(".herald-confirm-count")).to_contain_text("1 send will go again")
    page.click("input[type=submit][value^='Yes']")
    expect(page.locator(".messagelist")).to_contain_text("Re-triggered 1 send(s)")
    wait_for(
        lambda: Send.objects.filter(status="sent").count() == 2, what="the re-triggered send", log=worker.log
    )
    shots(page, "send-log")

    # The dashboard has changed: two sends sent today, the campaign's failure rate.
    page.goto(f"{live_server.url}/admin/")
    expect(page.locator(".herald-failures")).to_contain_text("order-completed")
    expect(page.locator(".herald-chart details")).to_contain_text("sent 2")
    shots(page, "dashboard")

    # On a phone.
    phone = browser.new_page(viewport=PHONE)
    phone.context.add_cookies(page.context.cookies())
    phone.goto(f"{live_server.url}/admin/")
    assert_fits(phone, "#herald-dashboard", PHONE["width"])
    shots(phone, "dashboard-phone")
    phone.goto(f"{live_server.url}/admin/mailings/mailing/")
    phone.click("#result_list tbody tr th a")
    expect(phone.locator(".herald-preview-subject")).to_have_text("Order A-1001 confirmed")
    phone.locator(".herald-preview [data-width=mobile]").click()
    assert_fits(phone, ".herald-preview-html", PHONE["width"])
    shots(phone, "mailing-preview-phone", element="fieldset:has(.herald-preview)")
    phone.goto(f"{live_server.url}/admin/sends/send/")
    phone.click("#result_list tbody tr th a")
    assert_fits(phone, ".herald-timeline", PHONE["width"])
    assert_fits(phone, "iframe.herald-framed", PHONE["width"])
