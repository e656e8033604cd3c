"""An org's staff through the admin in a real browser (Playwright driving Debian's Chromium), issue #21.

An org admin invites a colleague; a real worker sends the invitation; the colleague opens its link in a
browser of their own, chooses a username and a password, and sees only that org. As a marketer they send a
campaign to a CSV list: row 17's problem is shown, the fixed file is previewed, confirmed, and sent by the
worker. Screenshots of the key pages are kept, as in test_browser.py: under docs/screenshots/ with
HERALD_SCREENSHOTS=docs/screenshots, in the test's own folder otherwise.
"""

import re

import pytest

from orgs.models import Invitation, Membership
from sends.models import Send
from tests.e2e import test_browser
from tests.e2e.conftest import wait_for
from tests.factories import CampaignFactory, MailingFactory, MembershipFactory, OrgFactory, UserFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# test_browser.py's fixtures (Chromium, the live server, the screenshots), used here by their names.
browser, server, shots = test_browser.browser, test_browser.server, test_browser.shots
DESKTOP, PHONE, sync_api = test_browser.DESKTOP, test_browser.PHONE, test_browser.sync_api
assert_fits = test_browser.assert_fits

ROWS = 30
BAD_ROW = 17  # the file's row number: the header is row 1
PASSWORD = "a long passphrase 42"


def customers_csv(path, *, bad: bool):
    """ROWS customers; with `bad`, the one on the file's row 17 has no valid email address."""
    lines = ["email,first_name,order_number"]
    for i in range(1, ROWS + 1):
        address = f"customer{i}@example.com"
        if bad and i + 1 == BAD_ROW:
            address = f"customer{i}.example.com"
        lines.append(f"{address},Ann{i},A-{1000 + i}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_an_invited_marketer_joins_one_org_and_sends_to_a_list(
    server, worker, browser, shots, settings, tmp_path, viewport
):
    """The whole walk at a desktop's width and at a phone's: at a phone's, each page's content fits it."""
    live_server = server
    width = viewport["width"]
    phone = width < DESKTOP["width"]

    def shot(page, name: str, **kwargs) -> None:
        shots(page, f"{name}-phone" if phone else name, **kwargs)

    def fits(page, selector: str) -> None:
        if phone:
            assert_fits(page, selector, width)

    settings.HERALD_PUBLIC_URL = live_server.url  # the invitation's link points at this server
    settings.HERALD_DASHBOARD_CACHE_SECONDS = 0
    acme, other = OrgFactory(name="Acme Shop"), OrgFactory(name="Other Shop")
    mailing = MailingFactory(
        org=acme, name="Order confirmation", context_schema={"type": "object", "required": ["order_number"]}
    )
    campaign = CampaignFactory(org=acme, key="order-completed", name="Order completed", email_mailing=mailing)
    theirs = CampaignFactory(org=other, key="their-newsletter", name="Their newsletter")
    ada = UserFactory(username="ada", email="ada@example.com", password=PASSWORD)
    MembershipFactory(user=ada, org=acme, role=Membership.Role.ADMIN)
    worker.start()
    expect = sync_api.expect

    # The org admin logs in and invites a colleague as marketer.
    admin = browser.new_context(viewport=viewport).new_page()
    admin.set_default_timeout(15_000)
    admin.goto(f"{live_server.url}/admin/login/")
    admin.fill("#id_username", "ada")
    admin.fill("#id_password", PASSWORD)
    admin.click("input[type=submit]")
    expect(admin.locator("#user-tools")).to_contain_text("ada")
    admin.goto(f"{live_server.url}/admin/orgs/invitation/add/")
    expect(admin.locator("#id_org option:checked")).to_have_text("Acme Shop")  # the admin's one org
    expect(admin.locator("#id_org")).not_to_contain_text("Other Shop")
    admin.fill("#id_email", "colleague@example.com")
    admin.select_option("#id_role", "marketer")
    admin.click("input[name=_save]")
    expect(admin.locator(".messagelist")).to_contain_text("The invitation to colleague@example.com is send")
    row = admin.locator("#result_list tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("colleague@example.com")
    expect(row).to_contain_text("Acme Shop")
    expect(row).to_contain_text("pending")
    expect(admin.locator("#site-name")).to_contain_text("Acme Shop · admin")
    fits(admin, "#changelist-form .results")  # the table scrolls inside it, as in every Django changelist
    shot(admin, "staff-invite")

    # It is a real send: the worker sends it, and its text carries the link.
    send = wait_for(
        lambda: Send.objects.filter(campaign__key="herald-invitation", status=Send.Status.SENT).first(),
        what="the invitation sent", log=worker.log,
    )  # fmt: skip
    assert send.to_address == "colleague@example.com"
    link = re.search(r"\S+/admin/orgs/invitation/accept/[^/\s]+/", send.text).group(0)
    assert link.startswith(live_server.url)
    assert any(b"colleague@example.com" in m.read_bytes() for m in worker.messages())  # in the outbox too

    # The colleague, in a browser of their own, opens the link and chooses a username and a password.
    colleague = browser.new_context(viewport=viewport).new_page()
    colleague.set_default_timeout(15_000)
    colleague.goto(link)
    page = colleague.locator(".herald-invitation")
    expect(page).to_contain_text("You are invited to Acme Shop as marketer")
    expect(page).to_contain_text("Choose a username and a password for colleague@example.com.")
    fits(colleague, ".herald-invitation")
    colleague.fill("#id_username", "colleague")
    colleague.fill("#id_password1", PASSWORD)
    colleague.fill("#id_password2", PASSWORD)
    shot(colleague, "staff-accept")
    colleague.click("input[type=submit][value='Create my account and join']")
    expect(colleague.locator(".messagelist")).to_contain_text("You are a marketer of Acme Shop.")
    expect(colleague.locator("#user-tools")).to_contain_text("colleague")
    expect(colleague.locator("#site-name")).to_contain_text("Acme Shop · marketer")
    assert Invitation.objects.get().accepted_by.username == "colleague"

    # They see Acme Shop's campaigns and nothing of Other Shop's.
    colleague.goto(f"{live_server.url}/admin/campaigns/campaign/")
    listed = colleague.locator("#result_list")
    expect(listed).to_contain_text("order-completed")
    expect(listed).not_to_contain_text("their-newsletter")
    expect(colleague.locator("#content")).not_to_contain_text("Other Shop")  # nor in the org filter
    response = colleague.goto(f"{live_server.url}/admin/campaigns/campaign/{theirs.pk}/change/")
    assert response.status == 404
    response = colleague.goto(f"{live_server.url}/admin/campaigns/campaign/{theirs.pk}/send-to-list/")
    assert response.status == 404
    assert colleague.context.new_page().goto(link).status == 404  # the link worked once

    # The marketer sends the campaign to a list; row 17 of the file has a problem.
    colleague.goto(f"{live_server.url}/admin/campaigns/campaign/{campaign.pk}/change/")
    colleague.click("text=Send to a list…")
    expect(colleague.locator("form.herald-send-to-list")).to_be_visible()
    fits(colleague, "form.herald-send-to-list")
    colleague.set_input_files("#id_file", str(customers_csv(tmp_path / "customers.csv", bad=True)))
    colleague.click("input[type=submit][value='Check the list']")
    upload = colleague.locator(".herald-list-upload")
    expect(upload.locator("h2").first).to_have_text(f"{ROWS} rows, 1 problem")
    problems = upload.locator("table.herald-problems tbody tr")
    expect(problems).to_have_count(1)
    expect(problems.locator("td").nth(0)).to_have_text(str(BAD_ROW))
    expect(problems.locator("td").nth(1)).to_have_text("email")
    expect(problems).to_contain_text(f"'customer{BAD_ROW - 1}.example.com' is not a valid email address.")
    expect(upload.locator("form.herald-confirm")).to_have_count(0)  # no Send button while it has problems
    fits(colleague, "table.herald-problems")
    shot(colleague, "list-problems", full_page=False)  # the problems head the page

    # They fix the file and upload it again: no problems, the first three messages as they will go.
    colleague.click(".breadcrumbs a:has-text('Send to a list')")
    colleague.set_input_files("#id_file", str(customers_csv(tmp_path / "customers-fixed.csv", bad=False)))
    colleague.click("input[type=submit][value='Check the list']")
    expect(upload.locator("h2").first).to_have_text(f"{ROWS} rows")
    expect(upload.locator("table.herald-problems")).to_have_count(0)
    messages = upload.locator("fieldset.herald-message")
    expect(messages).to_have_count(3)
    expect(messages.nth(0).locator("h2")).to_have_text("Row 2: email to customer1@example.com")
    expect(messages.nth(0)).to_contain_text("Order A-1001 confirmed")
    expect(messages.nth(0).frame_locator("iframe.herald-framed").locator("p")).to_contain_text("Hello Ann1")
    expect(messages.nth(2).locator("h2")).to_have_text("Row 4: email to customer3@example.com")
    for selector in ("fieldset.herald-message", "iframe.herald-framed", "form.herald-confirm"):
        fits(colleague, selector)
    assert Send.objects.filter(campaign=campaign).count() == 0  # nothing sent before confirming
    # In a tall viewport, not a full-page capture, which leaves the messages' sandboxed frames unpainted.
    colleague.set_viewport_size({"width": width, "height": 1880 if not phone else 2600})
    upload.locator("h3:has-text('as they will go')").evaluate("h3 => h3.scrollIntoView({block: 'start'})")
    expect(messages.nth(2).frame_locator("iframe.herald-framed").locator("p")).to_contain_text("Hello Ann3")
    shot(colleague, "list-preview", full_page=False)
    colleague.set_viewport_size(viewport)

    # They confirm; the worker sends all thirty.
    confirm = upload.locator(f"form.herald-confirm input[type=submit][value='Send to {ROWS} rows']")
    confirm.scroll_into_view_if_needed()
    with colleague.expect_navigation():
        confirm.click()
    expect(upload.locator(".herald-sent")).to_contain_text(f"Sent: {ROWS} rows became trigger")
    expect(upload.locator(".herald-sent")).to_contain_text(f"({ROWS} sends)")
    fits(colleague, ".herald-sent")
    wait_for(
        lambda: Send.objects.filter(campaign=campaign, status=Send.Status.SENT).count() == ROWS,
        what=f"the {ROWS} sends sent", log=worker.log,
    )  # fmt: skip
    fixed = Send.objects.get(campaign=campaign, to_address=f"customer{BAD_ROW - 1}@example.com")
    assert fixed.subject == f"Order A-{1000 + BAD_ROW - 1} confirmed"
    colleague.reload()
    expect(upload.locator(".herald-sent")).to_be_visible()
    shot(colleague, "list-sent")
