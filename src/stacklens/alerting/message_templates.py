"""A small, Prometheus-compatible subset of alert templating.

Annotations and labels of a rule may hold ``{{ ... }}`` actions; the text is also a
valid Go template, so the exported Prometheus rule file renders the same way.
Supported actions (anything else is an error at rule-check time):

- ``{{ $labels.NAME }}`` — a label of the alert (empty when absent, like Prometheus'
  ``missingkey=zero``); ``{{ $value }}`` — the value that crossed the threshold;
- a pipe into one function: ``humanize`` (SI prefixes, ``1.5k``),
  ``humanizePercentage`` (``0.25`` → ``25%``), ``humanizeDuration`` (seconds →
  ``1h 2m 3s``), ``printf "%.2f"`` (one float verb: ``%f %e %g``, with flags/precision);
- the function-first form, e.g. ``{{ humanize $value }}``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

__all__ = [
    "Template",
    "TemplateError",
    "compile_template",
    "format_value",
    "format_with_unit",
    "humanize",
    "render_all",
]

_ACTION = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_OPERAND = re.compile(r"\$value|\$labels\.([A-Za-z_][A-Za-z0-9_]*)")
_PRINTF = re.compile(r'printf\s+"((?:[^"%]|%%)*%[-+ 0#]*\d*(?:\.\d+)?[feEgG](?:[^"%]|%%)*)"')
_FUNCTIONS: Final = ("humanize", "humanizePercentage", "humanizeDuration")


class TemplateError(ValueError):
    """An unsupported or malformed template; ``column`` is 0-based within the text."""

    def __init__(self, message: str, column: int = 0) -> None:
        super().__init__(message)
        self.column = column


@dataclass(frozen=True)
class _Action:
    label: str | None  # None: $value
    function: str | None
    printf: str | None


@dataclass(frozen=True)
class Template:
    source: str
    parts: tuple[str | _Action, ...]

    def render(self, labels: Mapping[str, str], value: float) -> str:
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            if part.label is not None:
                text = labels.get(part.label, "")
                if part.function is None and part.printf is None:
                    out.append(text)
                    continue
                try:
                    number = float(text)
                except ValueError:
                    out.append(text)
                    continue
            else:
                number = value
            out.append(_apply(part, number))
        return "".join(out)


def _apply(action: _Action, number: float) -> str:
    if action.printf is not None:
        return action.printf % number
    if action.function == "humanize":
        return humanize(number)
    if action.function == "humanizePercentage":
        return f"{_g4(number * 100)}%"
    if action.function == "humanizeDuration":
        return _humanize_duration(number)
    return format_value(number)


def _parse_action(body: str, column: int) -> _Action:
    text = body.strip()
    if not text:
        raise TemplateError("empty template action {{ }}", column)
    # function-first form: "humanize $value"
    for name in _FUNCTIONS:
        if text.startswith(name + " "):
            operand = text[len(name) :].strip()
            match = _OPERAND.fullmatch(operand)
            if not match:
                raise TemplateError(f"unsupported operand {operand!r} for {name}", column)
            return _Action(match.group(1), name, None)
    pieces = [p.strip() for p in text.split("|")]
    match = _OPERAND.fullmatch(pieces[0])
    if not match:
        raise TemplateError(
            f"unsupported template action {{{{ {text} }}}}: use $value or $labels.NAME, "
            f"optionally piped to {', '.join(_FUNCTIONS)} or printf",
            column,
        )
    if len(pieces) == 1:
        return _Action(match.group(1), None, None)
    if len(pieces) > 2:
        raise TemplateError(f"only one pipe is supported in {{{{ {text} }}}}", column)
    function = pieces[1]
    if function in _FUNCTIONS:
        return _Action(match.group(1), function, None)
    printf = _PRINTF.fullmatch(function)
    if printf:
        fmt = printf.group(1)
        if fmt.replace("%%", "").count("%") != 1:
            raise TemplateError("printf takes exactly one float verb", column)
        return _Action(match.group(1), None, fmt)
    raise TemplateError(f"unsupported template function {function!r}", column)


def compile_template(source: str) -> Template:
    """Parse ``source``; raises :class:`TemplateError` for anything outside the subset."""
    parts: list[str | _Action] = []
    position = 0
    for match in _ACTION.finditer(source):
        parts.append(source[position : match.start()])
        parts.append(_parse_action(match.group(1), match.start()))
        position = match.end()
    tail = source[position:]
    if "{{" in tail or "}}" in tail:
        raise TemplateError("unbalanced '{{' or '}}'", position + max(tail.find("{{"), 0))
    parts.append(tail)
    return Template(source, tuple(p for p in parts if p != ""))


def render_all(
    templates: Mapping[str, Template], labels: Mapping[str, str], value: float
) -> dict[str, str]:
    return {name: template.render(labels, value) for name, template in templates.items()}


def _g4(number: float) -> str:
    return f"{number:.4g}"


def format_value(number: float) -> str:
    """``$value`` as Go prints a float64 (``12`` not ``12.0``)."""
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    if number.is_integer() and abs(number) < 1e21:
        return str(int(number))
    return repr(number)


def humanize(number: float) -> str:
    """Prometheus' ``humanize``: SI prefixes, four significant digits."""
    if number == 0 or math.isnan(number) or math.isinf(number):
        return _g4(number)
    prefix = ""
    if abs(number) >= 1:
        for candidate in ("k", "M", "G", "T", "P", "E", "Z", "Y"):
            if abs(number) < 1000:
                break
            prefix = candidate
            number /= 1000
        return _g4(number) + prefix
    for candidate in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(number) >= 1:
            break
        prefix = candidate
        number *= 1000
    return _g4(number) + prefix


def format_with_unit(number: float, unit: str) -> str:
    """An alert value as a person reads it, from the rule's unit (see
    :func:`stacklens.alerting.rules.rule_unit`): ``ratio`` → ``2.5%``, ``seconds`` →
    ``350ms`` / ``4.2s`` / ``2m 5s``, ``USD`` → ``$12.35``, ``bool`` → ``up``/``down``,
    ``%`` and ``°C`` glued on, any other unit after the number; none: the number."""
    if math.isnan(number) or math.isinf(number):
        return format_value(number)
    if unit == "ratio":
        return f"{_g4(number * 100)}%"
    if unit == "seconds":
        if abs(number) < 1:
            return f"{_g4(number * 1000)}ms"
        return f"{_g4(number)}s" if abs(number) < 60 else _humanize_duration(number)
    if unit == "USD":
        return f"-${-number:,.2f}" if number < 0 else f"${number:,.2f}"
    if unit == "bool":
        return "up" if number else "down"
    if unit in ("%", "°C"):
        return f"{_g4(number)}{unit}"
    return f"{humanize(number)} {unit}" if unit else humanize(number)


def _humanize_duration(number: float) -> str:
    if number == 0 or math.isnan(number) or math.isinf(number):
        return _g4(number) + "s"
    sign = "-" if number < 0 else ""
    value = abs(number)
    if value >= 1:
        seconds = int(value)
        days, hours = seconds // 86400, seconds // 3600 % 24
        minutes, secs = seconds // 60 % 60, seconds % 60
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {secs}s"
        if hours:
            return f"{sign}{hours}h {minutes}m {secs}s"
        if minutes:
            return f"{sign}{minutes}m {secs}s"
        return f"{sign}{_g4(value)}s"
    prefix = ""
    for candidate in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if value >= 1:
            break
        prefix = candidate
        value *= 1000
    return f"{sign}{_g4(value)}{prefix}s"
