"""How log records are written: one JSON object per line (python-json-logger), or a short
human-readable line in development on a terminal.

Every record, ours and the libraries' (uvicorn, botocore, stripe), goes through the root
logger's one handler. A JSON line has `timestamp`, `level`, `logger`, `message`, the
request id of the request being served (`requestId`, from a context variable), and any
`extra=` fields at the top level, so CloudWatch's JSON filter patterns (`$.kind`, ...) and
other log stores read them as they are.

The choice of format is `log_format()`, the level `log_level()`, and both are applied by
`configure_logging()`: the CLI calls it once; `logging_config()` is the same set-up as a
dictConfig, for uvicorn to apply in each worker it spawns; AWS Lambda calls it at cold start
(the runtime leaves the root logger at WARNING, which would drop every INFO line).
"""

from __future__ import annotations

import contextvars
import logging
import logging.config
import os
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

import orjson
from pythonjsonlogger.orjson import OrjsonFormatter

Format = Literal["json", "console"]
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Chatty below WARNING: one line per HTTP call they make.
QUIET_LIBRARIES = ("stripe", "httpx", "httpcore", "botocore", "aiobotocore", "boto3", "urllib3")

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def log_format(environ: Mapping[str, str] | None = None, stream: TextIO | None = None) -> Format:
    """LOG_FORMAT when set (json or console); otherwise console only for development on a
    terminal, and JSON everywhere else (production, AWS Lambda, a pipe or a file)."""
    env = os.environ if environ is None else environ
    chosen = env.get("LOG_FORMAT", "").strip().lower()
    if chosen in ("json", "console"):
        return chosen  # type: ignore[return-value]
    if env.get("ENVIRONMENT", "development") == "production" or env.get("AWS_LAMBDA_FUNCTION_NAME"):
        return "json"
    stream = sys.stderr if stream is None else stream
    return "console" if getattr(stream, "isatty", lambda: False)() else "json"


def log_level(environ: Mapping[str, str] | None = None) -> str:
    """LOG_LEVEL (default INFO); a value that is no level is INFO too, said once at start."""
    env = os.environ if environ is None else environ
    level = env.get("LOG_LEVEL", "").strip().upper()
    return level if level in LEVELS else "INFO"


def _with_request_id(factory: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        record.requestId = request_id.get()
        return record
    make.puts_request_ids = True  # type: ignore[attr-defined]
    return make


def put_request_ids_on_records() -> None:
    """Every record made while a request is served carries its id (`requestId`), whichever
    handler writes it (ours, the Lambda runtime's, pytest's). Done once, at import."""
    factory = logging.getLogRecordFactory()
    if not getattr(factory, "puts_request_ids", False):
        logging.setLogRecordFactory(_with_request_id(factory))


put_request_ids_on_records()


class JsonLines(OrjsonFormatter):
    """`timestamp`, `level`, `logger`, `message`, then the record's extra fields.

    A record without an exception or stack (every request line) is written by `format`
    itself, the same object python-json-logger writes, in a third of its time (its
    general field handling was ~10 us of a ~100 us cached answer); the rest by the library."""

    def __init__(self) -> None:
        super().__init__("%(levelname)s %(name)s %(message)s", timestamp=True,
                         rename_fields={"levelname": "level", "name": "logger"})
        self._skip = frozenset(self._skip_fields) | {"levelname", "name", "message", "color_message"}

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info or record.exc_text or record.stack_info:
            return super().format(record)
        data: dict[str, Any] = {"level": record.levelname, "logger": record.name, "message": record.getMessage()}
        skip = self._skip
        for key, value in record.__dict__.items():
            if key not in skip and not (isinstance(key, str) and key.startswith("_")):
                data[key] = value
        if data.get("requestId", "") is None:
            del data["requestId"]
        data["timestamp"] = datetime.fromtimestamp(record.created, tz=UTC)
        return orjson.dumps(data, default=self.json_default, option=orjson.OPT_NON_STR_KEYS).decode()

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        if log_data.get("requestId") is None:
            log_data.pop("requestId", None)
        log_data.pop("color_message", None)  # uvicorn's message again, with terminal colours
        return log_data


class ConsoleLines(logging.Formatter):
    """`LEVEL logger: message key=value ...`, for a person at a terminal."""

    SKIP = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "requestId", "taskName",
                                                      "color_message"}

    def __init__(self) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = {k: v for k, v in record.__dict__.items() if k not in self.SKIP and v is not None}
        if fields:
            line += " " + " ".join(f"{k}={v}" for k, v in fields.items())
        return line


def logging_config(fmt: Format | None = None, level: str | None = None) -> dict[str, Any]:
    """The whole set-up as a logging.config dictConfig (uvicorn's `log_config` takes it)."""
    fmt = fmt or log_format()
    level = level or log_level()
    quiet = "DEBUG" if level == "DEBUG" else "WARNING"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonLines}, "console": {"()": ConsoleLines}},
        "handlers": {"default": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                                 "formatter": fmt}},
        "root": {"level": level, "handlers": ["default"]},
        "loggers": {
            # uvicorn's own loggers, without its handlers: through ours, like everything else
            "uvicorn": {"level": level, "handlers": [], "propagate": True},
            "uvicorn.error": {"level": level, "handlers": [], "propagate": True},
            "uvicorn.access": {"level": level, "handlers": [], "propagate": True},
            **{name: {"level": quiet} for name in QUIET_LIBRARIES},
        },
    }


def configure_logging(fmt: Format | None = None, level: str | None = None) -> None:
    logging.config.dictConfig(logging_config(fmt, level))
    skip_what_no_line_shows()


def skip_what_no_line_shows() -> None:
    """The logging HOWTO's optimizations: a record need not find its caller's file and line,
    nor its thread and process, which neither format writes (a third of making a record)."""
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


def configure_lambda_logging() -> None:
    """On AWS Lambda the runtime has put its own handler on the root logger (it writes to
    the function's log stream) and left the level at WARNING. Keep its handler, give it
    our JSON lines, and set the level from LOG_LEVEL."""
    root = logging.getLogger()
    if not root.handlers:
        configure_logging("json")
        return
    level = log_level()
    for handler in root.handlers:
        handler.setFormatter(JsonLines())
    root.setLevel(level)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel("DEBUG" if level == "DEBUG" else "WARNING")
