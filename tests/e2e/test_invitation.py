"""An org admin invites a colleague in the admin; a real worker sends the email; the colleague accepts it
from the link in that email and works in that org alone."""

import email
import re
from email import policy

import pytest
from django.conf import settings
from django.test import Client

from orgs.models import Membership
from sends.models import Send
from tests.e2e.conftest import wait_for
from tests.factories import MailingFactory, MembershipFactory, OrgFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_an_invited_colleague_accepts_from_the_email_and_sees_only_that_org(worker):
    org, other = OrgFactory(name="Acme"), OrgFactory(name="Other shop")
    ours, theirs = MailingFactory(org=org, name="Ours"), MailingFactory(org=other, name="Theirs")
    admin = Client()
    admin.force_login(MembershipFactory(org=org, role=Membership.Role.ADMIN).user)
    worker.start()

    response = admin.post(
        "/admin/orgs/invitation/add/", {"org": org.pk, "email": "colleague@example.com", "role": "marketer"}
    )
    assert response.status_code == 302
    wait_for(lambda: worker.messages(), what="the invitation in the outbox", log=worker.log)
    message = email.message_from_bytes(worker.messages()[0].read_bytes(), policy=policy.default)
    assert message["To"] == "colleague@example.com" and "Acme" in message["Subject"]
    link = re.search(r"\S+/accept/[^/\s]+/", message.get_body(("plain",)).get_content()).group(0)
    wait_for(
        lambda: Send.objects.filter(campaign__key="herald-invitation", status="sent").exists(),
        what="the invitation's send recorded as sent", log=worker.log,
    )  # fmt: skip

    colleague = Client()
    path = link.removeprefix(settings.HERALD_PUBLIC_URL.rstrip("/"))
    form = {"username": "colleague", "password1": "a long passphrase 42", "password2": "a long passphrase 42"}
    assert colleague.post(path, form).status_code == 302
    listed = colleague.get("/admin/mailings/mailing/").context["cl"].result_list
    assert ours in listed and theirs not in listed
    assert colleague.get(f"/admin/mailings/mailing/{theirs.pk}/change/").status_code == 404
    assert Client().get(path).status_code == 404  # the link worked once
