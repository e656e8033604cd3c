from datetime import UTC, datetime, timedelta

import pytest

from core.bulk import built, instances
from sends.models import Send

pytestmark = pytest.mark.django_db


def test_instances_read_in_bulk_are_the_ones_the_orm_gives(make_send):
    sent_at = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
    sends = [
        make_send(),
        make_send(
            context={"items": [{"name": "Jörg's mug", "price": 9.5}], "nothing": None},
            metadata={"order": 7}, sent_at=sent_at, expires_at=sent_at + timedelta(days=1), attempts=3,
            test=True, provider_message_id="pm-1", locale="de-AT",
        ),
    ]  # fmt: skip
    queryset = Send.objects.filter(pk__in=[s.pk for s in sends]).order_by("pk")

    fast, orm = instances(queryset), list(queryset)

    assert [s.pk for s in fast] == [s.pk for s in orm] == [s.pk for s in sends]
    for read, expected in zip(fast, orm, strict=True):
        for field in Send._meta.concrete_fields:
            got, want = getattr(read, field.attname), getattr(expected, field.attname)
            assert (type(got), got) == (type(want), want), field.name
        assert read.sent_at is None or read.sent_at.utcoffset() == timedelta(0)
        assert not read._state.adding
    assert fast[1].sent_at == sent_at


@pytest.mark.parametrize(
    "queryset",
    [
        lambda: Send.objects.select_related("recipient"),
        lambda: Send.objects.only("pk"),
        lambda: Send.objects.values("pk"),
        lambda: Send.objects.prefetch_related("attempt_errors"),
    ],
)
def test_instances_refuse_what_they_would_read_differently_from_the_orm(queryset):
    with pytest.raises(ValueError):
        instances(queryset())


def test_instances_of_nothing_ask_the_database_nothing(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert instances(Send.objects.filter(pk__in=[])) == []
        assert instances(Send.objects.none()) == []


def test_built_instances_are_the_ones_keyword_arguments_give(org):
    row = {"org_id": org.pk, "channel": "email", "to_address": "ada@example.com", "context": {"n": 1}}

    [fast], slow = built(Send, [row]), Send(**row)

    for field in Send._meta.concrete_fields:
        got, want = getattr(fast, field.attname), getattr(slow, field.attname)
        if field.name == "correlation_id":  # a new random one each
            assert type(got) is type(want) and got != want
        elif field.name in ("created_at", "updated_at"):  # now, a moment apart
            assert abs(got - want) < timedelta(seconds=5)
        else:
            assert (type(got), got) == (type(want), want), field.name
    assert fast._state.adding and fast.pk is None
    with pytest.raises(TypeError, match="no field org"):
        built(Send, [{"org": org}])
