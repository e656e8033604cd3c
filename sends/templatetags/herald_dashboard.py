"""{% herald_dashboard %} on the admin index: the send log's last 14 days, the queue, dispatch progress.

Each member sees what their role may, of their orgs: whoever reads the send log (support, admins,
operators) all of it; a marketer their campaigns' sends per day and failure rates, without the queue
or links into a send log they may not open.
"""

from django import template
from django.contrib import admin
from django.utils.html import format_html, format_html_join

from campaigns.models import Campaign
from orgs.admin_scoping import orgs_of_request
from sends.dashboard import STATUS_COLORS, Dashboard, dashboard_build
from sends.models import Send, Trigger

register = template.Library()

WIDTH, HEIGHT, TOP, BOTTOM, LEFT = 700, 240, 16, 28, 40


@register.inclusion_tag("admin/herald_dashboard.html", takes_context=True)
def herald_dashboard(context) -> dict:
    request = context["request"]
    send_admin = admin.site._registry.get(Send)
    if send_admin is not None and send_admin.has_view_permission(request):
        # The admins' own querysets: whatever an admin page hides from this person, the dashboard counts not.
        trigger_admin = admin.site._registry.get(Trigger)
        dashboard = dashboard_build(
            sends=send_admin.get_queryset(request),
            triggers=trigger_admin.get_queryset(request) if trigger_admin else Trigger.objects.all(),
            cache_key=dashboard_cache_key(orgs_of_request(request, Send)),
        )
        send_log = True
    else:
        orgs = orgs_of_request(request, Campaign)
        if not orgs:  # None would be an operator, who reads the send log above
            return {"dashboard": None}
        # Counts of their campaigns' sends, not the sends: the figures a marketer judges a campaign by.
        dashboard = dashboard_build(
            sends=Send.objects.filter(org__in=orgs), triggers=Trigger.objects.none(),
            cache_key=dashboard_cache_key(orgs), queue=False,
        )  # fmt: skip
        send_log = False
    return {
        "dashboard": dashboard,
        "chart": chart_svg(dashboard),
        "legend": legend(dashboard),
        "send_log": send_log,
    }


def dashboard_cache_key(orgs: set[int] | None) -> str:
    # By the orgs counted, not the person: a membership ended is a key no longer reached, so nobody sees
    # cached counts of an org they have left.
    return f"herald:dashboard:{'all' if orgs is None else '-'.join(map(str, sorted(orgs))) or 'none'}"


def chart_svg(dashboard: Dashboard) -> str:
    """Stacked bars, one per day, drawn on the server: no script, no CDN."""
    peak = max([sum(day.values()) for day in dashboard.per_day.values()] + [1])
    plot_height = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT) / len(dashboard.days)
    shapes = []
    for index, day in enumerate(dashboard.days):
        x = LEFT + index * slot + slot * 0.15
        y = HEIGHT - BOTTOM
        for status, color in STATUS_COLORS.items():
            count = dashboard.per_day[day].get(status, 0)
            if not count:
                continue
            height = count / peak * plot_height
            y -= height
            shapes.append(format_html(
                '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {} {}</title></rect>',
                f"{x:.1f}", f"{y:.1f}", f"{slot * 0.7:.1f}", f"{height:.1f}", color,
                day.isoformat(), count, status,
            ))  # fmt: skip
        if (len(dashboard.days) - 1 - index) % 2 == 0:  # every other day, ending today
            shapes.append(format_html(
                '<text x="{}" y="{}" font-size="11" text-anchor="middle" fill="currentColor">{}</text>',
                f"{x + slot * 0.35:.1f}", HEIGHT - 10, day.strftime("%d %b"),
            ))  # fmt: skip
    axis = format_html(
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="currentColor" stroke-opacity=".4"/>'
        '<text x="{}" y="{}" font-size="11" text-anchor="end" fill="currentColor">{}</text>'
        '<text x="{}" y="{}" font-size="11" text-anchor="end" fill="currentColor">0</text>',
        LEFT, HEIGHT - BOTTOM, WIDTH, HEIGHT - BOTTOM, LEFT - 4, TOP + 4, peak, LEFT - 4, HEIGHT - BOTTOM,
    )  # fmt: skip
    return format_html(
        '<svg viewBox="0 0 {} {}" role="img" aria-label="Sends per status per day, last {} days">{}{}</svg>',
        WIDTH, HEIGHT, len(dashboard.days), axis, format_html_join("", "{}", ((s,) for s in shapes)),
    )  # fmt: skip


def legend(dashboard: Dashboard) -> str:
    present = {status for day in dashboard.per_day.values() for status in day}
    return format_html_join(
        "", '<span><i style="background:{}"></i>{}</span>',
        ((color, status) for status, color in STATUS_COLORS.items() if status in present),
    )  # fmt: skip
