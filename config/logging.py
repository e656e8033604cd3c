"""Log formats: LOG_FORMAT=json writes one JSON object per line, for log shippers; text (the default) the
usual line for a terminal. Both carry each record's `extra` fields (org, campaign, correlation id, …)."""

import json
import logging
from datetime import UTC, datetime

# What every LogRecord has: anything else on a record came in through `extra=` and is the line's data.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def extra_fields(record: logging.LogRecord) -> dict:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **extra_fields(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`time LEVEL logger message key=value …`: the extra fields too, so a terminal shows what JSON would."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        fields = " ".join(f"{k}={v}" for k, v in extra_fields(record).items() if v not in (None, "", []))
        return f"{line} {fields}" if fields else line
