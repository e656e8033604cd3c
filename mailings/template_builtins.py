"""The only tags and filters a marketer's template gets.

Left out on purpose: {% load %}, {% include %}, {% extends %} (they would reach templates and libraries
beyond the data given), {% debug %} (it prints the context and sys.modules), {% url %} and {% csrf_token %}.
"""

from django.template import Library, defaultfilters, defaulttags

ALLOWED_TAGS = {
    "autoescape", "comment", "cycle", "filter", "firstof", "for", "if", "ifchanged", "lorem", "now",
    "regroup", "resetcycle", "spaceless", "templatetag", "verbatim", "widthratio", "with",
}  # fmt: skip

register = Library()
register.tags.update({name: tag for name, tag in defaulttags.register.tags.items() if name in ALLOWED_TAGS})
register.filters.update(defaultfilters.register.filters)
