"""Send to a list: a CSV or XLSX file checked row by row in the API's words, previewed, sent as a trigger."""

import io
from datetime import timedelta

import openpyxl
import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from intake import lists
from intake.list_files import mapping_guess
from intake.lists import list_upload_check, list_upload_create, list_uploads_empty
from intake.models import ListUpload
from intake.tasks import INLINE_ROWS
from orgs.models import Membership
from privacy.services import recipient_erase
from privacy.tasks import purge_expired_sends
from recipients.models import Recipient
from sends.models import Send, Trigger
from suppressions.models import Suppression
from tests.factories import (
    CampaignFactory,
    MailingFactory,
    MembershipFactory,
    RecipientFactory,
    SmsMailingFactory,
)
from tests.test_admin import url

pytestmark = pytest.mark.django_db

HEADER = "E-mail,First name,order_number\n"


@pytest.fixture
def shop_campaign(org):
    mailing = MailingFactory(org=org, context_schema={"type": "object", "required": ["order_number"]})
    return CampaignFactory(org=org, key="order-completed", email_mailing=mailing)


@pytest.fixture
def marketer(client, org):
    member = MembershipFactory(org=org, role=Membership.Role.MARKETER)
    client.force_login(member.user)
    return client


def csv_file(text: str, name: str = "customers.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


def upload(client, campaign, file):
    return client.post(url("campaigns_campaign_send_to_list", campaign.pk), {"file": file}, follow=True)


def rows(n: int, start: int = 1) -> str:
    return "".join(f"c{i}@example.com,Ann{i},A-{i}\n" for i in range(start, start + n))


def test_the_mapping_is_guessed_from_the_headers():
    headers = [
        "E-mail",
        "First name",
        "Surname",
        "Mobile",
        "Customer ID",
        "order_number",
        "context.coupon",
        "",
    ]
    assert mapping_guess(headers) == [
        "email", "first_name", "last_name", "phone", "external_id",
        "context.order_number", "context.coupon", "",
    ]  # fmt: skip


def test_the_campaign_page_offers_send_to_a_list(marketer, shop_campaign):
    page = marketer.get(url("campaigns_campaign_change", shop_campaign.pk)).content.decode()
    assert url("campaigns_campaign_send_to_list", shop_campaign.pk) in page


def test_each_problem_is_named_by_its_row_in_the_apis_words(marketer, api, shop_campaign):
    text = HEADER + rows(2) + "nope,Bob,A-3\n" + "dan@example.com,Dan,\n"
    response = upload(marketer, shop_campaign, csv_file(text))
    assert response.status_code == 200
    shown = [(p["row"], p["column"], p["message"]) for p in response.context["upload"].problems]

    api_answer = api.post(
        f"/api/v1/campaigns/{shop_campaign.key}/trigger/",
        {"recipients": [{"email": "nope", "context": {"order_number": "A-3"}}, {"email": "dan@example.com"}]},
        format="json",
    ).json()["error"]["problems"]
    assert shown == [
        (4, "E-mail", api_answer[0]["message"]),  # row 4 of the file: the header is row 1
        (5, "order_number", api_answer[1]["message"]),
    ]
    assert [m for _, _, m in shown] == [
        "'nope' is not a valid email address.",
        "'order_number' is a required property",
    ]
    page = response.content.decode()
    assert "&#x27;nope&#x27; is not a valid email address." in page
    assert 'name="confirm"' not in page, "a list with problems cannot be sent: fix the file"


def test_a_suppressed_recipient_is_shown_and_the_rest_may_go(marketer, org, shop_campaign):
    Suppression.objects.create(org=org, address="c2@example.com", reason=Suppression.Reason.BOUNCED)
    response = upload(marketer, shop_campaign, csv_file(HEADER + rows(3)))
    [problem] = response.context["upload"].problems
    assert (problem["row"], problem["message"]) == (3, "'c2@example.com' is suppressed: it will not be sent.")
    assert 'name="confirm"' in response.content.decode()


def test_the_preview_renders_the_first_three_messages(marketer, shop_campaign):
    response = upload(marketer, shop_campaign, csv_file(HEADER + rows(5)))
    page = response.content.decode()
    rendered = response.context["rendered"]
    assert [(m["row"], m["to"], m["subject"]) for m in rendered] == [
        (2, "c1@example.com", "Order A-1 confirmed"),
        (3, "c2@example.com", "Order A-2 confirmed"),
        (4, "c3@example.com", "Order A-3 confirmed"),
    ]
    assert "Hello Ann1, order &lt;b&gt;A-1&lt;/b&gt; is confirmed." in page  # in the sandboxed frame
    assert "Order A-4 confirmed" not in page
    assert "5 rows" in page


def test_an_sms_preview_counts_its_segments(marketer, org):
    sms = SmsMailingFactory(org=org, text="{{ context.note }} " + "x" * 160)
    campaign = CampaignFactory(org=org, email_mailing=None, sms_mailing=sms)
    response = upload(
        marketer, campaign, csv_file("phone,note\n+4915112345678,Hello\n+4915112345679,Grüße 😀\n")
    )
    assert [(m["segments"], m["encoding"]) for m in response.context["rendered"]] == [
        (2, "GSM-7"),
        (3, "UCS-2"),
    ]
    assert "2 SMS segments (GSM-7)" in response.content.decode()


def test_nothing_is_stored_before_staff_confirm(marketer, org, shop_campaign):
    RecipientFactory(org=org, email="c1@example.com")
    upload(marketer, shop_campaign, csv_file(HEADER + rows(3)))
    assert ListUpload.objects.get().status == ListUpload.Status.CHECKED
    assert Trigger.objects.count() == Send.objects.count() == 0
    assert Recipient.objects.count() == 1


def test_confirming_twice_makes_one_trigger(marketer, shop_campaign):
    checked = upload(marketer, shop_campaign, csv_file(HEADER + rows(3)))
    preview = checked.redirect_chain[-1][0]
    marketer.post(preview, {"confirm": "1"})
    page = marketer.post(preview, {"confirm": "1"}, follow=True).content.decode()

    trigger = Trigger.objects.get()
    assert (trigger.source, trigger.campaign, trigger.send_count) == ("list", shop_campaign, 3)
    assert sorted(Send.objects.values_list("to_address", flat=True)) == [
        f"c{i}@example.com" for i in (1, 2, 3)
    ]
    assert Send.objects.get(to_address="c2@example.com").context == {"order_number": "A-2"}
    assert f"trigger {trigger.pk}" in page
    sent = ListUpload.objects.get()
    assert bytes(sent.content) == b"", "the list is not kept once it is sent"
    assert (sent.preview, sent.problems, sent.total) == ({}, [], 3), "nor its first rows and messages"


def test_the_sent_page_links_into_the_send_log_only_for_those_who_may_open_it(
    marketer, shop_campaign, client, org
):
    checked = upload(marketer, shop_campaign, csv_file(HEADER + rows(2)))
    preview = checked.redirect_chain[-1][0]
    page = marketer.post(preview, {"confirm": "1"}, follow=True).content.decode()
    trigger = Trigger.objects.get()
    assert f"trigger {trigger.pk}" in page
    assert "/admin/sends/" not in page, "a marketer may not open the send log: no link there"
    client.force_login(MembershipFactory(org=org, role=Membership.Role.ADMIN).user)
    page = client.get(preview).content.decode()
    assert (
        f"/admin/sends/trigger/{trigger.pk}/change/" in page
        and "/admin/sends/send/?trigger__id__exact" in page
    )


def test_the_same_file_uploaded_and_confirmed_again_is_still_one_trigger(marketer, shop_campaign):
    for _ in range(2):
        preview = upload(marketer, shop_campaign, csv_file(HEADER + rows(2))).redirect_chain[-1][0]
        marketer.post(preview, {"confirm": "1"})
    assert Trigger.objects.count() == 1
    assert Send.objects.count() == 2
    again = upload(marketer, shop_campaign, csv_file(HEADER + rows(2)))
    assert again.context["upload"].preview["sent_before"] == Trigger.objects.get().pk


def test_the_mapping_can_be_edited(marketer, shop_campaign):
    response = upload(marketer, shop_campaign, csv_file("E-mail,Name,Order\nc1@example.com,Ann,A-1\n"))
    assert response.context["upload"].blocking, "Order is context.Order, not order_number"
    preview = response.redirect_chain[-1][0]
    remapped = marketer.post(
        preview, {"column_0": "email", "column_1": "first_name", "column_2": "context.Order"}, follow=True
    )
    assert remapped.context["upload"].mapping == ["email", "first_name", "context.Order"]
    assert remapped.context["upload"].problems[0]["message"] == "'order_number' is a required property"
    bad = marketer.post(preview, {"column_0": "email", "column_1": "email", "column_2": ""})
    assert bad.status_code == 400
    assert "mapping[Name]: &#x27;E-mail&#x27; is mapped to email already." in bad.content.decode()


def test_an_xlsx_file_is_read(marketer, shop_campaign):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["email", "first_name", "order_number", "customer_id"])
    sheet.append(["ann@example.com", "Ann", 1001, 4915112345678.0])  # a number typed into a cell
    sheet.append([None, None, None, None])
    sheet.append(["bob@example.com", "Bob", "A-2", None])
    content = io.BytesIO()
    book.save(content)
    file = SimpleUploadedFile("customers.xlsx", content.getvalue())
    response = upload(marketer, shop_campaign, file)
    preview = response.context["upload"].preview
    assert response.context["upload"].problems == []
    assert [(r["row"], r["email"], r["context"]) for r in preview["rows"]] == [
        (2, "ann@example.com", {"order_number": "1001"}),
        (4, "bob@example.com", {"order_number": "A-2"}),
    ]
    assert preview["rows"][0]["external_id"] == "4915112345678"

    # Read once: the send (and a check with other columns) reads it as CSV, its rows keeping their numbers.
    assert bytes(ListUpload.objects.get().content).startswith(
        b"email,first_name,order_number,customer_id\r\n"
    )
    preview_url = response.redirect_chain[-1][0]
    columns = {"column_0": "email", "column_1": "first_name", "column_2": "context.order_number"}
    remapped = marketer.post(preview_url, {**columns, "column_3": ""}, follow=True)
    assert [r["row"] for r in remapped.context["upload"].preview["rows"]] == [2, 4]
    marketer.post(preview_url, {"confirm": "1"})
    assert sorted(Send.objects.values_list("to_address", "context")) == [
        ("ann@example.com", {"order_number": "1001"}),
        ("bob@example.com", {"order_number": "A-2"}),
    ]


def test_an_xlsx_file_too_long_for_a_list_is_refused_by_the_size_its_sheet_declares(
    marketer, shop_campaign, settings
):
    settings.HERALD_MAX_LIST_ROWS = 2
    book = openpyxl.Workbook()
    for row in (["email"], ["a@example.com"], ["b@example.com"], ["c@example.com"]):
        book.active.append(row)
    content = io.BytesIO()
    book.save(content)
    response = upload(marketer, shop_campaign, SimpleUploadedFile("customers.xlsx", content.getvalue()))
    assert response.status_code == 400
    assert "The file has 3 rows; a list has at most 2." in response.content.decode()
    assert ListUpload.objects.count() == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The submitted file is empty."),  # Django's own word for it
        (b"email\n", "The file has a header row but no rows of recipients."),
        (b"\xff\xfe\x00b", "Not a UTF-8 text file"),
        (b"first_name\nAnn\n", "Map a column to email, phone or external_id."),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "An .xls file from before 2007: save it as .xlsx or .csv."),
        (b"PK\x03\x04 not really a zip", "Not a readable XLSX file"),
    ],
)
def test_a_file_that_is_no_list_is_a_400_naming_it_and_keeps_nothing(
    marketer, shop_campaign, content, message
):
    response = upload(marketer, shop_campaign, SimpleUploadedFile("list.csv", content))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert ListUpload.objects.count() == 0


def test_a_list_longer_than_the_limit_is_refused(marketer, shop_campaign, settings):
    settings.HERALD_MAX_LIST_ROWS = 3
    response = upload(marketer, shop_campaign, csv_file(HEADER + rows(4)))
    assert response.status_code == 400
    assert "The file has 4 rows; a list has at most 3." in response.content.decode()


def test_another_orgs_campaign_and_upload_are_404(marketer, org, other_org, shop_campaign):
    theirs = CampaignFactory(org=other_org)
    assert marketer.get(url("campaigns_campaign_send_to_list", theirs.pk)).status_code == 404
    assert upload(marketer, theirs, csv_file(HEADER + rows(1))).status_code == 404
    their_upload = ListUpload.objects.create(org=other_org, campaign=theirs, filename="x.csv", content=b"x")
    assert marketer.get(url("campaigns_campaign_list_upload", theirs.pk, their_upload.pk)).status_code == 404
    # Nor through one's own campaign's URL.
    assert (
        marketer.get(url("campaigns_campaign_list_upload", shop_campaign.pk, their_upload.pk)).status_code
        == 404
    )
    assert ListUpload.objects.count() == 1


def test_a_role_that_may_not_change_the_campaign_cannot_send_it(client, org, shop_campaign):
    support = MembershipFactory(org=org, role=Membership.Role.SUPPORT)
    client.force_login(support.user)
    assert client.get(url("campaigns_campaign_send_to_list", shop_campaign.pk)).status_code == 403
    assert upload(client, shop_campaign, csv_file(HEADER + rows(1))).status_code == 403
    page = client.get(url("campaigns_campaign_change", shop_campaign.pk)).content.decode()
    assert "Send to a list" not in page
    assert ListUpload.objects.count() == 0


def test_a_long_list_is_checked_and_sent_by_a_worker_with_a_progress_bar(
    marketer, shop_campaign, eager_tasks, django_capture_on_commit_callbacks
):
    n = INLINE_ROWS + 1
    with django_capture_on_commit_callbacks() as queued:
        response = upload(marketer, shop_campaign, csv_file(HEADER + rows(n)))
    page = response.content.decode()
    assert f'<progress value="0" max="{n}">' in page
    assert '<meta http-equiv="refresh"' in page
    assert Trigger.objects.count() == 0
    for callback in queued:
        callback()  # the worker's turn (eager)
    preview = response.redirect_chain[-1][0]
    assert marketer.get(preview).context["upload"].status == ListUpload.Status.CHECKED
    with django_capture_on_commit_callbacks(execute=True):
        marketer.post(preview, {"confirm": "1"})
    assert Trigger.objects.get().send_count == n


def test_a_campaign_paused_after_the_check_sends_nothing_and_says_why(marketer, shop_campaign):
    preview = upload(marketer, shop_campaign, csv_file(HEADER + rows(2))).redirect_chain[-1][0]
    shop_campaign.status = shop_campaign.Status.PAUSED
    shop_campaign.save()
    page = marketer.post(preview, {"confirm": "1"}, follow=True).content.decode()
    assert "Not sent: Campaign &#x27;order-completed&#x27; is paused." in page
    assert Trigger.objects.count() == 0
    assert ListUpload.objects.get().status == ListUpload.Status.FAILED
    # Checked again, the pause is the list's problem, and there is nothing to confirm.
    again = upload(marketer, shop_campaign, csv_file(HEADER + rows(2)))
    assert (
        again.context["upload"].problems[0]["message"]
        == "The campaign is paused; resume it to trigger sends."
    )
    assert 'name="confirm"' not in again.content.decode()


def test_a_check_that_breaks_off_says_so_instead_of_refreshing_for_ever(marketer, shop_campaign, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr("intake.lists.trigger_check", broken)
    marketer.raise_request_exception = False
    assert upload(marketer, shop_campaign, csv_file(HEADER + rows(2))).status_code == 500
    failed = ListUpload.objects.get()
    assert (failed.status, failed.error) == (
        ListUpload.Status.FAILED, "Herald failed while at this list; upload it again."
    )  # fmt: skip
    page = marketer.get(url("campaigns_campaign_list_upload", shop_campaign.pk, failed.pk)).content.decode()
    assert "Not sent: Herald failed while at this list" in page
    assert '<meta http-equiv="refresh"' not in page


def test_a_marketer_sees_the_problems_in_row_17_fixes_them_and_sends(marketer, shop_campaign):
    broken = HEADER + rows(15) + "ann@example,Ann,\n" + rows(3, start=17)
    checked = upload(marketer, shop_campaign, csv_file(broken))
    assert [(p["row"], p["column"]) for p in checked.context["upload"].problems] == [
        (17, "order_number"), (17, "E-mail"),  # in the API's order: by field
    ]  # fmt: skip
    assert Trigger.objects.count() == 0

    fixed = upload(
        marketer, shop_campaign, csv_file(HEADER + rows(15) + "ann@example.com,Ann,A-16\n" + rows(3, 17))
    )
    assert fixed.context["upload"].problems == []
    marketer.post(fixed.redirect_chain[-1][0], {"confirm": "1"})
    assert Trigger.objects.get().send_count == Send.objects.count() == 19


@pytest.mark.parametrize(
    ("kind", "critical", "flagged"),
    [("transactional", False, False), ("marketing", False, True), ("transactional", True, False)],
)
def test_an_unsubscribe_is_flagged_where_dispatch_would_suppress_it(marketer, org, kind, critical, flagged):
    Suppression.objects.create(
        org=org, address="c1@example.com", reason=Suppression.Reason.UNSUBSCRIBED,
        scope=Suppression.Scope.MARKETING,
    )  # fmt: skip
    campaign = CampaignFactory(org=org, kind=kind, transactional_critical=critical)
    response = upload(marketer, campaign, csv_file("email\nc1@example.com\n"))
    assert bool(response.context["upload"].problems) is flagged


def test_a_suppressed_phone_is_named_as_the_phone(marketer, org):
    Suppression.objects.create(org=org, address="+4915112345678", reason=Suppression.Reason.MANUAL)
    campaign = CampaignFactory(org=org, email_mailing=None, sms_mailing=SmsMailingFactory(org=org))
    [problem] = upload(marketer, campaign, csv_file("Mobile\n+49 151 12345678\n")).context["upload"].problems
    assert (problem["row"], problem["field"], problem["column"]) == (2, "phone", "Mobile")
    assert problem["message"] == "'+4915112345678' is suppressed: it will not be sent."


def test_a_list_never_sent_is_gone_after_a_day_and_a_sent_one_keeps_its_counts(marketer, shop_campaign):
    upload(marketer, shop_campaign, csv_file(HEADER + rows(3)))
    preview = upload(marketer, shop_campaign, csv_file(HEADER + rows(2, start=7))).redirect_chain[-1][0]
    marketer.post(preview, {"confirm": "1"})
    with time_machine.travel(timezone.now() + timedelta(hours=25)):
        purge_expired_sends()  # beat's hourly purge
    [kept] = ListUpload.objects.all()
    assert (kept.status, kept.total) == (ListUpload.Status.SENT, 2)


def test_erasing_a_recipient_empties_the_orgs_lists_not_yet_sent(marketer, org, other_org, shop_campaign):
    upload(marketer, shop_campaign, csv_file(HEADER + rows(3)))
    theirs = list_upload_create(
        org=other_org, campaign=CampaignFactory(org=other_org), user=None, name="theirs.csv",
        content=(HEADER + rows(1)).encode(),
    )  # fmt: skip
    recipient = RecipientFactory(org=org, email="c2@example.com")
    erasure = recipient_erase(recipient=recipient)
    assert erasure.list_uploads == 1
    emptied = ListUpload.objects.get(org=org)
    assert (bytes(emptied.content), emptied.preview, emptied.problems) == (b"", {}, [])
    assert emptied.status == ListUpload.Status.FAILED
    page = marketer.get(url("campaigns_campaign_list_upload", shop_campaign.pk, emptied.pk)).content.decode()
    assert "c2@example.com" not in page and "upload the list again" in page
    assert bytes(ListUpload.objects.get(pk=theirs.pk).content), "another org's list is not touched"


def test_a_check_running_while_the_list_is_emptied_keeps_nothing_of_it(org, shop_campaign):
    listed = list_upload_create(
        org=org, campaign=shop_campaign, user=None, name="c.csv", content=(HEADER + rows(3)).encode()
    )
    list_uploads_empty(org=org)  # an erasure, between the upload and its check
    checked = list_upload_check(upload_id=listed.pk)
    assert (checked.status, checked.preview, bytes(checked.content)) == (ListUpload.Status.FAILED, {}, b"")


def test_a_list_emptied_while_its_check_runs_keeps_none_of_the_findings(org, shop_campaign, monkeypatch):
    listed = list_upload_create(
        org=org, campaign=shop_campaign, user=None, name="c.csv", content=(HEADER + rows(3)).encode()
    )
    checking = lists.trigger_check

    def erased_meanwhile(*args, **kwargs):
        list_uploads_empty(org=org)  # an erasure commits while the worker checks the rows
        return checking(*args, **kwargs)

    monkeypatch.setattr(lists, "trigger_check", erased_meanwhile)
    checked = list_upload_check(upload_id=listed.pk)
    stored = ListUpload.objects.get(pk=listed.pk)
    assert (stored.status, stored.preview, stored.problems) == (ListUpload.Status.FAILED, {}, [])
    assert bytes(stored.content) == b"" and checked.status == ListUpload.Status.FAILED


def test_an_erasure_counts_only_the_lists_it_emptied_and_leaves_one_being_sent(org, shop_campaign):
    def listed(name):
        return list_upload_create(
            org=org, campaign=shop_campaign, user=None, name=name, content=(HEADER + rows(2)).encode()
        )

    waiting, sending = listed("a.csv"), listed("b.csv")
    ListUpload.objects.filter(pk=sending.pk).update(status=ListUpload.Status.SENDING)
    assert list_uploads_empty(org=org) == 1
    assert list_uploads_empty(org=org) == 0, "emptied once, counted once"
    assert bytes(ListUpload.objects.get(pk=sending.pk).content), "its worker empties it once it is sent"
    assert ListUpload.objects.get(pk=waiting.pk).status == ListUpload.Status.FAILED


def test_the_hourly_purge_leaves_a_list_a_worker_is_still_at(marketer, org, shop_campaign):
    at_work = list_upload_create(
        org=org, campaign=shop_campaign, user=None, name="long.csv", content=(HEADER + rows(2)).encode()
    )
    with time_machine.travel(timezone.now() + timedelta(hours=25)):
        ListUpload.objects.filter(pk=at_work.pk).update(updated_at=timezone.now())  # its progress just moved
        purge_expired_sends()
        assert ListUpload.objects.filter(pk=at_work.pk).exists()
    with time_machine.travel(timezone.now() + timedelta(hours=27)):
        purge_expired_sends()  # no progress for two hours: its worker died
        assert not ListUpload.objects.filter(pk=at_work.pk).exists()
