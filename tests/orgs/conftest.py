import pytest

from orgs.models import Membership
from tests.factories import MembershipFactory


@pytest.fixture
def org_admin(client, org):
    """A client logged in as an admin of org, the role that sees every page of its org; `.user` is who."""
    membership = MembershipFactory(org=org, role=Membership.Role.ADMIN)
    client.force_login(membership.user)
    client.user = membership.user
    return client
