"""Object metadata helpers and API errors shared by server and clients."""
import datetime
import time


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text):
    if not text:
        return None
    try:
        return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc).timestamp()
    except ValueError:
        return None


def age(text, now=None):
    """kubectl-style short duration since an RFC3339 timestamp."""
    ts = parse_time(text)
    if ts is None:
        return "<unknown>"
    secs = int((now or time.time()) - ts)
    if secs < 0:
        secs = 0
    if secs < 120:
        return f"{secs}s"
    mins = secs // 60
    if mins < 10:
        return f"{mins}m{secs % 60}s" if secs % 60 else f"{mins}m"
    if mins < 180:
        return f"{mins}m"
    hours = mins // 60
    if hours < 48:
        return f"{hours}h{mins % 60}m" if hours < 8 and mins % 60 else f"{hours}h"
    return f"{hours // 24}d"


class APIError(Exception):
    """An error answered as a metav1.Status."""

    REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
               405: "MethodNotAllowed", 409: "Conflict", 410: "Expired", 415: "UnsupportedMediaType",
               422: "Invalid", 429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable",
               504: "Timeout"}

    def __init__(self, code, message, reason=None, details=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or self.REASONS.get(code, "Unknown")
        self.details = details

    def status(self):
        doc = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": self.message, "reason": self.reason, "code": self.code}
        if self.details:
            doc["details"] = self.details
        return doc


def not_found(resource, name, group=""):
    res = f"{resource}.{group}" if group else resource
    return APIError(404, f'{res} "{name}" not found', details={"name": name, "group": group, "kind": resource})


def already_exists(resource, name, group=""):
    res = f"{resource}.{group}" if group else resource
    return APIError(409, f'{res} "{name}" already exists', "AlreadyExists",
                    details={"name": name, "group": group, "kind": resource})


def conflict(resource, name, group=""):
    res = f"{resource}.{group}" if group else resource
    return APIError(409, f'Operation cannot be fulfilled on {res} "{name}": the object has been '
                         "modified; please apply your changes to the latest version and try again",
                    "Conflict", details={"name": name, "group": group, "kind": resource})


def condition(obj, ctype):
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == ctype:
            return cond
    return None


def controller_ref(obj):
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None
