import pytest
from django.utils import translation

from mailings.rendering import RenderError, render_mailing, render_string
from tests.factories import MailingFactory


def render(source: str, **data) -> str:
    return render_string(source, data)


def test_templates_see_recipient_and_context():
    assert render("{{ recipient.first_name }}: {{ context.order.id }}", recipient={"first_name": "Ann"},
                  context={"order": {"id": 7}}) == "Ann: 7"  # fmt: skip


def test_loops_and_filters_work():
    assert (
        render("{% for i in context.items %}{{ i|upper }} {% endfor %}", context={"items": ["a", "b"]})
        == "A B "
    )


@pytest.mark.parametrize(
    "source",
    [
        "{% load static %}{% static 'x' %}",
        "{% load i18n %}",
        "{% include 'admin/base.html' %}",
        "{% extends 'admin/base.html' %}",
        "{% debug %}",
        "{% url 'admin:index' %}",
        "{% csrf_token %}",
        "{% lorem 99999999 w %}",
    ],
)
def test_tags_that_reach_beyond_the_data_are_not_available(source):
    with pytest.raises(RenderError):
        render(source)


def test_settings_are_out_of_reach():
    assert render("{{ settings.SECRET_KEY }}{{ SECRET_KEY }}{{ request }}", context={}) == ""


def test_private_attributes_are_refused():
    with pytest.raises(RenderError, match="underscores"):
        render("{{ context.items.__globals__ }}", context={})


def test_a_failing_template_raises_a_render_error_naming_the_part():
    with pytest.raises(RenderError, match="subject"):
        render_string("{% if %}", {}, part="subject")


def test_numbers_render_alike_whatever_language_the_worker_has_active():
    with translation.override("de"):
        rendered = render("{{ context.total }} x {{ context.n }}", context={"total": 1234.5, "n": 3})
    assert rendered == "1234.5 x 3"


def test_html_is_escaped_and_text_is_not():
    data = {"context": {"name": "<b>Tom & Jerry</b>"}}
    assert render_string("{{ context.name }}", data, html=True) == "&lt;b&gt;Tom &amp; Jerry&lt;/b&gt;"
    assert render_string("{{ context.name }}", data) == "<b>Tom & Jerry</b>"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("de-AT", "Hallo AT"),
        ("de_at", "Hallo AT"),
        ("de-CH", "Hallo"),
        ("de", "Hallo"),
        ("fr", "Hello"),
        (None, "Hello"),
    ],
)
def test_locales_fall_back_from_region_to_language_to_the_default(locale, expected):
    mailing = MailingFactory(
        subject="Hello",
        translations={"de": {"subject": "Hallo"}, "de-AT": {"subject": "Hallo AT"}},
    )
    assert render_mailing(mailing, locale=locale, data={}).subject == expected


@pytest.mark.django_db
def test_a_subject_cannot_carry_a_header_line_break():
    mailing = MailingFactory(subject="Order {{ context.n }}")
    rendered = render_mailing(mailing, locale=None, data={"context": {"n": "1\r\nBcc: victim@example.com"}})
    assert "\n" not in rendered.subject and "\r" not in rendered.subject


@pytest.mark.parametrize(
    "source",
    ["{{ 'x'|ljust:999999999 }}", "{{ 'x'|center:'5000' }}", "{{ 1|stringformat:'0999999999d' }}",
     "{{ 1.5|floatformat:99999 }}"],
)  # fmt: skip
def test_filters_cannot_be_asked_for_huge_widths(source):
    with pytest.raises(RenderError, match="at most 1000"):
        render(source)


def test_widths_within_reason_still_work():
    assert render("[{{ 'ab'|ljust:4 }}]") == "[ab  ]"


def test_a_render_that_runs_too_long_fails_instead_of_hanging(settings):
    settings.HERALD_TEMPLATE_TIME_LIMIT = 0.2
    # The loop budget off: on a fast machine its 100,000 iterations end the render before 0.2 s does.
    settings.HERALD_TEMPLATE_MAX_ITERATIONS = 10**12
    loops = (
        "{% for a in context.n %}{% for b in context.n %}{% for c in context.n %}{% if a == b %}x{% endif %}"
    )
    mailing = MailingFactory.build(html=loops + "{% endfor %}{% endfor %}{% endfor %}")
    with pytest.raises(RenderError, match="html: took longer than 0.2s"):
        render_mailing(mailing, locale=None, data={"context": {"n": list(range(1000))}})


def test_a_render_that_writes_too_much_fails(settings):
    settings.HERALD_TEMPLATE_MAX_CHARS = 100
    with pytest.raises(RenderError, match="more than 100 characters"):
        render("{% for i in context.n %}0123456789{% endfor %}", context={"n": list(range(11))})
