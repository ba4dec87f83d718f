"""Request bodies in, replies out, for the playground and the explorer: JSON of bounded nesting with finite numbers
only, values checked for type and range (a boolean is no number), one-line reasons, strict JSON back."""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate
from typing import Any

from aiohttp import web

from ..errors import GankitError, first_line

MAX_DEPTH = 8  # nesting of lists and objects a request may use
MAX_REASON = 200  # characters of an error reason sent back
# a JSON string; an unterminated one runs to the end, so that finding strings takes one pass
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class BodyError(GankitError, ValueError):
    """A request body that is not JSON, nests too deeply, or holds a value of the wrong type or range."""


def nesting(text: str) -> int:
    """How deeply the lists and objects of JSON ``text`` nest (brackets inside strings do not count)."""
    marks = _BRACKETS.findall(_STRING.sub("", text))
    return max(accumulate(_STEP[m] for m in marks), default=0)


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BodyError(f"the request holds a number out of range: {text[:40]}")
    return value


def _no_constant(name: str) -> None:
    raise BodyError(f"the request holds {name}: numbers must be finite")


def parse(data: bytes | str) -> Any:
    """JSON ``data`` → Python values; BodyError for bytes that are not UTF-8, text that is not JSON, nesting deeper
    than MAX_DEPTH and NaN, Infinity or numbers beyond the float range."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError:
        raise BodyError("the request body is not UTF-8 text") from None
    if nesting(text) > MAX_DEPTH:
        raise BodyError(f"the request nests lists and objects deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(text, parse_float=_finite, parse_constant=_no_constant)
    except BodyError:
        raise
    except ValueError as e:
        raise BodyError(f"the request body is not JSON: {one_line(e)}") from None


def integer(value: Any, name: str, lo: int, hi: int) -> int:
    """``value`` when it is an integer (not a boolean) in [lo, hi]; BodyError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise BodyError(f"{name}: an integer in [{lo}, {hi}]")
    return value


def number(value: Any, name: str, lo: float, hi: float) -> float:
    """``value`` as a float when it is a number (not a boolean) in [lo, hi]; BodyError otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise BodyError(f"{name}: a number in [{lo:g}, {hi:g}]")
    return float(value)


def items(value: Any, name: str, most: int, what: str) -> list:
    """``value`` when it is a list of 1 to ``most`` items; BodyError naming ``what`` they must be otherwise."""
    if not isinstance(value, list) or not 0 < len(value) <= most:
        raise BodyError(f"{name}: a list of 1 to {most} {what}")
    return value


def one_line(e: BaseException) -> str:
    """An exception's message as one line of at most MAX_REASON characters."""
    line = first_line(e)
    return line if len(line) <= MAX_REASON else line[: MAX_REASON - 1] + "…"


def reply(value: Any, status: int = 200) -> web.Response:
    """``value`` as a strict JSON response (NaN or Infinity in it is a ValueError, never sent)."""
    return web.Response(
        text=json.dumps(value, allow_nan=False), status=status, content_type="application/json"
    )


def error(status: int, message: str) -> web.Response:
    """{"error": message} with ``status``."""
    return reply({"error": message}, status)
