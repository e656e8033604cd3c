import pytest

from dialects.mongo_query import QueryError, translate
from recipients.models import Recipient
from tests.factories import OrgFactory, RecipientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(org):
    return {
        "ann": RecipientFactory(
            org=org,
            email="ann@example.com",
            first_name="Ann",
            attributes={"age": 31, "tier": "gold", "address": {"city": "Oslo"}},
        ),
        "bob": RecipientFactory(
            org=org, email="bob@example.com", first_name="Bob", attributes={"age": 19, "tier": None}
        ),
        "cy": RecipientFactory(
            org=org,
            email=None,
            phone="+4915100000003",
            first_name="Cy",
            attributes={"age": "40", "vip": True},
        ),
    }


def matching(org, query) -> set[str]:
    return {r.first_name for r in Recipient.objects.filter(org=org).filter(translate(query))}


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ({"age": 31}, {"Ann"}),
        ({"age": {"$eq": "40"}}, {"Cy"}),
        ({"age": {"$ne": 31}}, {"Bob", "Cy"}),
        ({"tier": {"$ne": "gold"}}, {"Bob", "Cy"}),
        ({"tier": None}, {"Bob", "Cy"}),
        ({"tier": {"$ne": None}}, {"Ann"}),
        ({"tier": {"$in": ["gold", "silver"]}}, {"Ann"}),
        ({"tier": {"$nin": ["gold"]}}, {"Bob", "Cy"}),
        ({"tier": {"$nin": ["gold", None]}}, set()),
        ({"age": {"$gt": 19}}, {"Ann"}),
        ({"age": {"$gte": 19, "$lt": 31}}, {"Bob"}),
        ({"age": {"$lte": "5"}}, {"Cy"}),
        ({"vip": {"$gt": 0}}, set()),
        ({"vip": {"$exists": True}}, {"Cy"}),
        ({"tier": {"$exists": True}}, {"Ann", "Bob"}),
        ({"tier": {"$exists": False}}, {"Cy"}),
        ({"address.city": "Oslo"}, {"Ann"}),
        ({"attributes.age": 19}, {"Bob"}),
        ({"email": "ANN@example.com"}, {"Ann"}),
        ({"email": None}, {"Cy"}),
        ({"email": {"$exists": False}}, {"Cy"}),
        ({"phone": "+49 151 00000003"}, {"Cy"}),
        ({"first_name": {"$in": ["Ann", "Cy"]}, "age": {"$gt": 20}}, {"Ann"}),
        ({"$or": [{"first_name": "Bob"}, {"address.city": "Oslo"}]}, {"Ann", "Bob"}),
        ({"$and": [{"age": {"$exists": True}}, {"$or": [{"vip": True}, {"age": 19}]}]}, {"Bob", "Cy"}),
    ],
)
def test_each_allowed_operator_matches_as_in_mongodb(org, people, query, names):
    assert matching(org, query) == names


def test_a_query_matches_within_the_org_it_is_applied_to(org, people):
    RecipientFactory(org=OrgFactory(name="Stranger"), first_name="Eve", attributes={"age": 31})
    assert matching(org, {"$or": [{"age": 31}, {"age": {"$exists": True}}]}) == {"Ann", "Bob", "Cy"}


@pytest.mark.parametrize(
    ("query", "path", "message"),
    [
        ({"age": {"$regex": ".*"}}, "age.$regex", "The operator $regex is not supported"),
        ({"$where": "1=1"}, "$where", "The operator $where is not supported"),
        ({"a'--": 1}, "a'--", "is not a field name"),
        ({"a__b": 1}, "a__b", "is not a field name"),
        ({"email.x": 1}, "email.x", "email is text"),
        ({"email": 5}, "email", "compare it with a string"),
        ({"age": {"$in": "x"}}, "age.$in", "Must be an array"),
        ({"age": {"$gt": True}}, "age.$gt", "Compare with a number or a string"),
        ({"age": {"$exists": "yes"}}, "age.$exists", "Must be true or false"),
        ({"$or": []}, "$or", "non-empty array"),
        ({"age": {"$gt": 1, "x": 2}}, "age", "not both"),
        ([], "", "non-empty object"),
    ],
)
def test_anything_outside_the_allow_list_is_refused_with_where_and_why(query, path, message):
    with pytest.raises(QueryError) as refused:
        translate(query)
    assert refused.value.path == path
    assert message in refused.value.message


def test_deep_or_large_queries_are_refused():
    deep: dict = {"a": 1}
    for _ in range(10):
        deep = {"$and": [deep]}
    with pytest.raises(QueryError, match="Nested deeper"):
        translate(deep)
    with pytest.raises(QueryError, match="More than 100 conditions"):
        translate({f"f{i}": i for i in range(101)})
    with pytest.raises(QueryError, match="At most 1000 values"):
        translate({"a": {"$in": list(range(1001))}})
