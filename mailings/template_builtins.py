"""The only tags and filters a marketer's template gets.

Left out on purpose: {% load %}, {% include %}, {% extends %} (they would reach templates and libraries
beyond the data given), {% debug %} (it prints the context and sys.modules), {% url %}, {% csrf_token %}
and {% lorem %} (it writes as many words as it is asked for).
"""

import functools
import re

from django.template import Library, TemplateSyntaxError, defaultfilters, defaulttags

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
