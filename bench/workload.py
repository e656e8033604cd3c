"""The one workload every measurement uses: an order confirmation to recipients new to Herald.

A subject, a ~2 KB HTML body and a text body; five context variables (order_number, items, total,
delivery_date, tracking_url) and a short loop over the items; the recipient's first name.
"""

import json
from typing import Any

SUBJECT = "Order {{ context.order_number }} confirmed, {{ recipient.first_name }}"

TEXT = """Hi {{ recipient.first_name }},

thank you for your order {{ context.order_number }}. Here is what you bought:
{% for item in context.items %}
- {{ item.quantity }} x {{ item.name }} ({{ item.price }})
{% endfor %}
Total: {{ context.total }}
Expected delivery: {{ context.delivery_date }}
Track your parcel: {{ context.tracking_url }}

Questions? Just reply to this email.
The Example Shop team
"""

HTML = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Order {{ context.order_number }}</title></head>
<body style="margin:0;padding:0;background:#f4f4f7;font-family:Helvetica,Arial,sans-serif;color:#333;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f4f4f7;">
<tr><td align="center" style="padding:24px 12px;">
<table role="presentation" width="600" cellpadding="0" cellspacing="0"
 style="background:#fff;border-radius:6px;">
<tr><td style="padding:24px 32px;border-bottom:1px solid #eaeaec;">
<h1 style="margin:0;font-size:22px;color:#1a1a1a;">Thanks for your order, {{ recipient.first_name }}!</h1>
<p style="margin:8px 0 0;font-size:14px;color:#666;">Order <b>{{ context.order_number }}</b> is confirmed
and will be with you by {{ context.delivery_date }}.</p>
</td></tr>
<tr><td style="padding:16px 32px;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="font-size:14px;">
<tr><th align="left" style="padding:8px 0;border-bottom:1px solid #eaeaec;">Item</th>
<th align="right" style="padding:8px 0;border-bottom:1px solid #eaeaec;">Qty</th>
<th align="right" style="padding:8px 0;border-bottom:1px solid #eaeaec;">Price</th></tr>
{% for item in context.items %}<tr>
<td style="padding:8px 0;border-bottom:1px solid #f0f0f2;">{{ item.name }}</td>
<td align="right" style="padding:8px 0;border-bottom:1px solid #f0f0f2;">{{ item.quantity }}</td>
<td align="right" style="padding:8px 0;border-bottom:1px solid #f0f0f2;">{{ item.price }}</td>
</tr>{% endfor %}
<tr><td colspan="2" align="right" style="padding:12px 0 0;font-weight:bold;">Total</td>
<td align="right" style="padding:12px 0 0;font-weight:bold;">{{ context.total }}</td></tr>
</table>
</td></tr>
<tr><td align="center" style="padding:8px 32px 24px;">
<a href="{{ context.tracking_url }}" style="display:inline-block;padding:12px 24px;background:#2b6cb0;
color:#fff;text-decoration:none;border-radius:4px;font-size:15px;">Track your parcel</a>
</td></tr>
<tr><td style="padding:16px 32px;background:#fafafb;font-size:12px;color:#888;border-radius:0 0 6px 6px;">
You receive this email because you placed an order with Example Shop. Questions? Reply to this email or
visit our help centre. Example Shop, 1 Sample Street, 12345 Example City.
</td></tr>
</table>
</td></tr>
</table>
</body>
</html>
"""

FROM_EMAIL = "shop@example.com"
MAILING = {
    "name": "Order confirmation (benchmark)",
    "channel": "email",
    "from_email": FROM_EMAIL,
    "subject": SUBJECT,
    "text": TEXT,
    "html": HTML,
    "default_locale": "en",
    "context_schema": {
        "type": "object",
        "required": ["order_number"],
        "properties": {"order_number": {"type": "string"}},
    },
}

# What every recipient's order has in common; each recipient brings its own order number.
SHARED_CONTEXT = {
    "items": [
        {"name": "Espresso beans, 1 kg", "quantity": 2, "price": "€ 31.80"},
        {"name": "Milk jug, 350 ml", "quantity": 1, "price": "€ 14.90"},
        {"name": "Descaling tablets", "quantity": 3, "price": "€ 8.97"},
    ],
    "total": "€ 55.67",
    "delivery_date": "Tuesday, 25 November",
    "tracking_url": "https://track.example.com/p/00340434161094042557",
}


def order_number(tag: str, i: int) -> str:
    return f"{tag}-{i:07d}"


def email(tag: str, i: int) -> str:
    return f"{tag}.{i}@customers.example.com"


def first_name(i: int) -> str:
    return ("Ada", "Grace", "Linus", "Barbara", "Alan", "Edsger", "Frances", "Donald")[i % 8]


def context_for(tag: str, i: int) -> dict[str, Any]:
    return {**SHARED_CONTEXT, "order_number": order_number(tag, i)}


def native_trigger(tag: str, start: int, count: int) -> bytes:
    """A native trigger request body for `count` recipients new to Herald, each with its order number."""
    return json.dumps(
        {
            "recipients": [
                {
                    "email": email(tag, i),
                    "first_name": first_name(i),
                    "context": {"order_number": order_number(tag, i)},
                }
                for i in range(start, start + count)
            ],
            "context": SHARED_CONTEXT,
        }
    ).encode()
