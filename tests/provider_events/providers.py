"""Tracking webhooks as six providers post them, to Anymail's views mounted at /anymail/.

Payload shapes follow each provider's webhook documentation (and Anymail's parsing of them). Each builder
gives the same bytes for the same arguments, so posting one again is a replayed webhook.
"""

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

WEBHOOK_SECRET = "herald:webhook-secret"
MAILGUN_SIGNING_KEY = "mailgun-webhook-signing-key"
ANYMAIL_SETTINGS = {"WEBHOOK_SECRET": WEBHOOK_SECRET, "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_SIGNING_KEY}

# A message id in each provider's own format, as its send API answers and Anymail records it.
MESSAGE_IDS = {
    "Postmark": "0a129aee-e1cd-480d-b08d-4f48548ff48d",
    "SendGrid": "3c2f3a4e-8e4b-4f0e-9a0e-0d6c1f1e2b7a",
    "Mailgun": "<20240501100000.1.5A3B9C7D2E1F0A4B@mg.example.com>",
    "Amazon SES": "0100018f3b2c4d5e-6f7a8b9c-0d1e-2f3a-4b5c-6d7e8f9a0b1c-000000",
    "Brevo": "<202405011000.12345678901@smtp-relay.mailin.fr>",
    "Mailjet": "1152921528456912345",
}


@dataclass
class Webhook:
    path: str
    body: str
    content_type: str = "application/json"
    headers: dict = field(default_factory=dict)

    def post(self, client, auth: str = WEBHOOK_SECRET):
        token = base64.b64encode(auth.encode()).decode()
        return client.post(
            self.path,
            self.body,
            content_type=self.content_type,
            HTTP_AUTHORIZATION=f"Basic {token}",
            **self.headers,
        )


def _id(*parts: object) -> str:
    return hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()


def _iso(at: int) -> str:
    return datetime.fromtimestamp(at, tz=UTC).isoformat().replace("+00:00", "Z")


def postmark(kind: str, *, message_id: str, address: str, at: int, metadata: dict | None = None) -> Webhook:
    common = {
        "MessageID": message_id,
        "ServerID": 23,
        "MessageStream": "outbound",
        "Tag": "",
        "Metadata": metadata or {},
    }
    bounce = {
        **common,
        "RecordType": "Bounce",
        "ID": int(_id(kind, message_id, at)[:12], 16),
        "Email": address,
        "From": "shop@example.com",
        "BouncedAt": _iso(at),
        "DumpAvailable": True,
        "Inactive": True,
        "CanActivate": True,
        "Subject": "Order 42 confirmed",
    }
    events = {
        "delivered": {
            **common,
            "RecordType": "Delivery",
            "Recipient": address,
            "DeliveredAt": _iso(at),
            "Details": "smtp;250 2.0.0 OK",
        },
        "bounced": {
            **bounce,
            "Type": "HardBounce",
            "TypeCode": 1,
            "Name": "Hard bounce",
            "Description": "The server was unable to deliver your message (ex: unknown user).",
            "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        },
        "soft_bounced": {
            **bounce,
            "Type": "SoftBounce",
            "TypeCode": 4096,
            "Name": "Soft bounce",
            "Description": "The server was unable to temporarily deliver your message.",
            "Details": "smtp;452 4.2.2 The email account that you tried to reach is over quota.",
        },
        "complained": {
            **bounce,
            "RecordType": "SpamComplaint",
            "Type": "SpamComplaint",
            "TypeCode": 512,
            "Name": "Spam complaint",
            "Description": "",
            "Details": "Feedback loop report",
        },
        "opened": {
            **common,
            "RecordType": "Open",
            "FirstOpen": True,
            "Platform": "WebMail",
            "UserAgent": "Mozilla/5.0",
            "Client": {"Name": "Gmail", "Company": "Google", "Family": "Gmail"},
            "OS": {"Name": "unknown", "Company": "unknown", "Family": "unknown"},
            "Geo": {},
            "ReadSeconds": 5,
            "ReceivedAt": _iso(at),
            "Recipient": address,
        },
        "clicked": {
            **common,
            "RecordType": "Click",
            "ClickLocation": "HTML",
            "Platform": "Desktop",
            "UserAgent": "Mozilla/5.0",
            "OriginalLink": "https://shop.example.com/orders/42",
            "ReceivedAt": _iso(at),
            "Recipient": address,
        },
        "unsubscribed": {
            **common,
            "RecordType": "SubscriptionChange",
            "ChangedAt": _iso(at),
            "Recipient": address,
            "Origin": "Recipient",
            "SuppressSending": True,
            "SuppressionReason": "ManualSuppression",
        },
    }
    return Webhook("/anymail/postmark/tracking/", json.dumps(events[kind]))


def sendgrid(kind: str, *, message_id: str, address: str, at: int) -> Webhook:
    common = {
        "email": address,
        "timestamp": at,
        "smtp-id": f"<{_id(message_id)[:20]}@ismtpd-101>",
        "sg_event_id": _id("sg", kind, message_id, at),
        "sg_message_id": f"{_id(message_id)[:22]}.filter",
        "anymail_id": message_id,
        "category": [],
    }
    events = {
        "delivered": {**common, "event": "delivered", "response": "250 2.0.0 OK", "tls": 1},
        "bounced": {
            **common,
            "event": "bounce",
            "type": "bounce",
            "status": "5.1.1",
            "reason": "550 5.1.1 The email account that you tried to reach does not exist.",
        },
        "opened": {**common, "event": "open", "useragent": "Mozilla/5.0", "ip": "203.0.113.7"},
        "complained": {**common, "event": "spamreport"},
    }
    # SendGrid posts a batch: a JSON array of events.
    return Webhook("/anymail/sendgrid/tracking/", json.dumps([events[kind]]))


def mailgun(kind: str, *, message_id: str, address: str, at: int) -> Webhook:
    data = {
        "id": _id("mg-event", kind, message_id, at)[:22],
        "timestamp": at + 0.25,
        "recipient": address,
        "recipient-domain": address.split("@")[1],
        "log-level": "info",
        "tags": [],
        "user-variables": {},
        "flags": {
            "is-routed": False,
            "is-authenticated": True,
            "is-system-test": False,
            "is-test-mode": False,
        },
        "envelope": {"sender": "shop@mg.example.com", "transport": "smtp", "targets": address},
        "message": {
            "headers": {
                "to": address,
                "message-id": message_id.strip("<>"),
                "from": "shop@example.com",
                "subject": "Order 42 confirmed",
            },
            "attachments": [],
            "size": 2048,
        },
    }
    events = {
        "delivered": {
            **data,
            "event": "delivered",
            "delivery-status": {"code": 250, "message": "OK", "description": "", "attempt-no": 1},
        },
        "bounced": {
            **data,
            "event": "failed",
            "severity": "permanent",
            "reason": "bounce",
            "log-level": "error",
            "delivery-status": {
                "code": 550,
                "attempt-no": 1,
                "description": "",
                "message": "5.1.1 The email account that you tried to reach does not exist.",
            },
        },
        "opened": {**data, "event": "opened", "client-info": {"user-agent": "Mozilla/5.0"}},
        "complained": {**data, "event": "complained"},
    }
    token = _id("mg-token", kind, message_id, at)[:50]
    timestamp = str(at)
    signature = hmac.new(
        MAILGUN_SIGNING_KEY.encode(), f"{timestamp}{token}".encode(), hashlib.sha256
    ).hexdigest()
    body = {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature},
        "event-data": events[kind],
    }
    return Webhook("/anymail/mailgun/tracking/", json.dumps(body))


def amazon_ses(
    kind: str, *, message_id: str, address: str, at: int, also_bounced: tuple[str, ...] = ()
) -> Webhook:
    mail = {
        "timestamp": _iso(at - 5),
        "source": "shop@example.com",
        "sourceArn": "arn:aws:ses:eu-west-1:123456789012:identity/example.com",
        "sendingAccountId": "123456789012",
        "messageId": message_id,
        "destination": [address, *also_bounced],
        "headersTruncated": False,
        "headers": [{"name": "Subject", "value": "Order 42 confirmed"}],
    }
    events = {
        "delivered": {
            "notificationType": "Delivery",
            "mail": mail,
            "delivery": {
                "timestamp": _iso(at),
                "recipients": [address],
                "processingTimeMillis": 546,
                "reportingMTA": "a8-70.smtp-out.amazonses.com",
                "smtpResponse": "250 ok: Message accepted",
            },
        },
        "bounced": {
            "notificationType": "Bounce",
            "mail": mail,
            "bounce": {
                "bounceType": "Permanent",
                "bounceSubType": "General",
                "timestamp": _iso(at),
                "feedbackId": _id("feedback", message_id, at),
                "reportingMTA": "dns; email.example.com",
                "bouncedRecipients": [
                    {
                        "emailAddress": a,
                        "status": "5.1.1",
                        "action": "failed",
                        "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                    }
                    for a in (address, *also_bounced)
                ],
            },
        },
        "opened": {
            "eventType": "Open",
            "mail": mail,
            "open": {"ipAddress": "203.0.113.7", "timestamp": _iso(at), "userAgent": "Mozilla/5.0"},
        },
        "complained": {
            "notificationType": "Complaint",
            "mail": mail,
            "complaint": {
                "userAgent": "Feedback Loop (V0.01)",
                "complainedRecipients": [{"emailAddress": address}],
                "complaintFeedbackType": "abuse",
                "timestamp": _iso(at),
                "feedbackId": _id("complaint", message_id),
            },
        },
    }
    h = _id("sns", kind, message_id, at)
    sns_id = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
    sns = {
        "Type": "Notification",
        "MessageId": sns_id,
        "TopicArn": "arn:aws:sns:eu-west-1:123456789012:ses-events",
        "Subject": "Amazon SES Email Event Notification",
        "Message": json.dumps(events[kind]),
        "Timestamp": _iso(at),
        "SignatureVersion": "1",
        "Signature": base64.b64encode(h.encode()).decode(),
        "SigningCertURL": "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0000000000.pem",
        "UnsubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=…",
    }
    # SNS posts JSON as text/plain and names the message in its headers too.
    headers = {"HTTP_X_AMZ_SNS_MESSAGE_TYPE": "Notification", "HTTP_X_AMZ_SNS_MESSAGE_ID": sns_id}
    return Webhook("/anymail/amazon_ses/tracking/", json.dumps(sns), "text/plain; charset=UTF-8", headers)


def brevo(kind: str, *, message_id: str, address: str, at: int) -> Webhook:
    common = {
        "email": address,
        "id": 1234567,
        "date": datetime.fromtimestamp(at, tz=UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "ts": at,
        "ts_event": at,
        "ts_epoch": at * 1000 + 123,
        "message-id": message_id,
        "subject": "Order 42 confirmed",
        "tag": "",
        "sending_ip": "185.41.28.109",
    }
    events = {
        "delivered": {**common, "event": "delivered"},
        "bounced": {
            **common,
            "event": "hard_bounce",
            "reason": "550 5.1.1 The email account does not exist.",
        },
        "opened": {**common, "event": "unique_opened"},
        "complained": {**common, "event": "spam"},
    }
    return Webhook("/anymail/brevo/tracking/", json.dumps(events[kind]))


def mailjet(kind: str, *, message_id: str, address: str, at: int) -> Webhook:
    common = {
        "time": at,
        "MessageID": int(message_id),
        "Message_GUID": _id("guid", message_id)[:36],
        "email": address,
        "mj_campaign_id": 7257,
        "mj_contact_id": 4,
        "customcampaign": "",
        "CustomID": "",
        "Payload": "",
    }
    events = {
        "delivered": {**common, "event": "sent", "mj_message_id": message_id, "smtp_reply": "250 2.0.0 OK"},
        "bounced": {
            **common,
            "event": "bounce",
            "blocked": False,
            "hard_bounce": True,
            "error_related_to": "recipient",
            "error": "user unknown",
        },
        "opened": {**common, "event": "open", "ip": "203.0.113.7", "geo": "DE", "agent": "Mozilla/5.0"},
        "complained": {**common, "event": "spam", "source": "JMRPP"},
    }
    # Mailjet groups events into an array when "group events" is on in its webhook settings.
    return Webhook("/anymail/mailjet/tracking/", json.dumps([events[kind]]))


PROVIDERS = {
    "Postmark": postmark,
    "SendGrid": sendgrid,
    "Mailgun": mailgun,
    "Amazon SES": amazon_ses,
    "Brevo": brevo,
    "Mailjet": mailjet,
}
