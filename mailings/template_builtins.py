"""The only tags and filters a marketer's template gets.

Left out on purpose: {% load %}, {% include %}, {% extends %} (they would reach templates and libraries
beyond the data given), {% debug %} (it prints the context and sys.modules), {% url %}, {% csrf_token %}
and {% lorem %} (it writes as many words as it is asked for).
"""

import functools
import re

from django.template import Library, Node, TemplateSyntaxError, defaultfilters, defaulttags

from mailings.render_budget import current_budget

ALLOWED_TAGS = {
    "autoescape", "comment", "cycle", "filter", "firstof", "for", "if", "ifchanged", "now",
    "regroup", "resetcycle", "spaceless", "templatetag", "verbatim", "widthratio", "with",
}  # fmt: skip

# Filters whose argument is a width or a precision: `{{ x|ljust:999999999 }}` would allocate a gigabyte.
WIDTH_FILTERS = {"ljust", "rjust", "center", "wordwrap", "floatformat", "stringformat"}
MAX_WIDTH = 1000


def _bounded(name: str, func):
    @functools.wraps(func)
    def bounded(value, arg):
        if any(int(number) > MAX_WIDTH for number in re.findall(r"\d+", str(arg))):
            raise TemplateSyntaxError(f"The argument of |{name} may be at most {MAX_WIDTH}.")
        return func(value, arg)

    return bounded


register = Library()
register.tags.update({name: tag for name, tag in defaulttags.register.tags.items() if name in ALLOWED_TAGS})
register.filters.update(defaultfilters.register.filters)
for _name in WIDTH_FILTERS:
    register.filters[_name] = _bounded(_name, defaultfilters.register.filters[_name])


class _Charged(Node):
    """A node of a loop's body, its output counted against the render's budget (mailings/render_budget.py)."""

    def __init__(self, node: Node, *, first: bool):
        self.node = node
        self.first = first
        self.token = getattr(node, "token", None)
        self.origin = getattr(node, "origin", None)

    def render_annotated(self, context):
        budget = current_budget()
        if budget is not None and self.first:
            budget.iteration()
        output = self.node.render_annotated(context)
        if budget is not None:
            budget.output(len(output))
        return output

    def render(self, context):  # pragma: no cover - ForNode calls render_annotated
        return self.render_annotated(context)


class _ChargedEmpty(Node):
    def render_annotated(self, context):
        budget = current_budget()
        if budget is not None:
            budget.iteration()
        return ""


@register.tag("for")
def bounded_for(parser, token):
    """Django's {% for %}, each iteration charged to the render's budget: a time and size bound that holds
    on every thread, where the signal-based timer holds only on a main thread."""
    node = defaulttags.do_for(parser, token)
    body = list(node.nodelist_loop)
    charged = [_Charged(child, first=i == 0) for i, child in enumerate(body)] or [_ChargedEmpty()]
    node.nodelist_loop = type(node.nodelist_loop)(charged)
    return node
