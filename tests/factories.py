import factory
from django.contrib.auth import get_user_model

from campaigns.models import Campaign
from mailings.models import Channel, Mailing
from orgs.models import Membership, Org
from recipients.models import Recipient

User = get_user_model()


class OrgFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Org

    name = factory.Sequence(lambda n: f"Shop {n}")


class RecipientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Recipient

    org = factory.SubFactory(OrgFactory)
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    first_name = "Ada"
    last_name = "Lovelace"


class MailingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Mailing

    org = factory.SubFactory(OrgFactory)
    name = factory.Sequence(lambda n: f"Order confirmation {n}")
    channel = Channel.EMAIL
    from_email = "shop@example.com"
    subject = "Order {{ context.order_number }} confirmed"
    text = "Hello {{ recipient.first_name }}, your order {{ context.order_number }} is confirmed."
    html = "<p>Hello {{ recipient.first_name }}, order <b>{{ context.order_number }}</b> is confirmed.</p>"
    default_locale = "en"


class SmsMailingFactory(MailingFactory):
    channel = Channel.SMS
    subject = ""
    html = ""
    text = "Your code is {{ context.code }}"


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    org = factory.SubFactory(OrgFactory)
    key = factory.Sequence(lambda n: f"order-completed-{n}")
    name = "Order completed"
    email_mailing = factory.SubFactory(MailingFactory, org=factory.SelfAttribute("..org"))


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"staff{n}")
    password = factory.django.Password("pw")


class MembershipFactory(factory.django.DjangoModelFactory):
    """A staff user's role in an org; the user is made staff by it."""

    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    org = factory.SubFactory(OrgFactory)
    role = Membership.Role.ADMIN
