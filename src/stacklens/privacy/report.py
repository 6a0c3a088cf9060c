"""``stacklens privacy check``: what the engine would redact in a JSONL file.

Pure functions over lines; the CLI reads the file and prints :func:`format_report`.
Reports name the rule and the path of each finding, never the value.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple

import msgspec

from stacklens.privacy.policy import Finding
from stacklens.privacy.redactor import Redactor

__all__ = ["LineReport", "check_lines", "format_report", "rule_counts"]

_decoder = msgspec.json.Decoder()


class LineReport(NamedTuple):
    line: int  # 1-based line number in the input
    event_id: str | None
    findings: list[Finding]
    #: Why the line could not be checked (not JSON, not an object), else ``None``.
    error: str | None = None


def check_lines(lines: Iterable[str | bytes], redactor: Redactor) -> Iterator[LineReport]:
    """One report per non-blank line; each line's JSON object is taken as the event."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            event = _decoder.decode(line)
        except msgspec.DecodeError:
            yield LineReport(number, None, [], "not valid JSON")
            continue
        if not isinstance(event, dict):
            yield LineReport(number, None, [], "not a JSON object")
            continue
        event_id = event.get("event_id", event.get("eventId"))
        result = redactor.redact_event(event)
        yield LineReport(number, event_id if isinstance(event_id, str) else None, result.findings)


def rule_counts(reports: Iterable[LineReport]) -> Counter[str]:
    return Counter(f.rule for report in reports for f in report.findings)


def format_report(reports: Sequence[LineReport], *, max_lines: int = 200) -> str:
    """Human summary: totals, counts per rule, then each line with findings."""
    flagged = [r for r in reports if r.findings]
    errors = [r for r in reports if r.error]
    counts = rule_counts(reports)
    out = [
        f"{len(reports)} events checked, {len(flagged)} with findings, "
        f"{sum(counts.values())} findings, {len(errors)} unreadable lines",
    ]
    if counts:
        out.append("")
        out.append("findings per rule:")
        width = max(len(rule) for rule in counts)
        out.extend(f"  {rule:<{width}}  {count}" for rule, count in counts.most_common())
    if flagged or errors:
        out.append("")
        out.append("per line:")
        shown = sorted(flagged + errors, key=lambda r: r.line)
        for report in shown[:max_lines]:
            label = f"  line {report.line}" + (f" ({report.event_id})" if report.event_id else "")
            if report.error:
                out.append(f"{label}: {report.error}")
            else:
                items = ", ".join(f"{f.rule} at {f.path}" for f in report.findings)
                out.append(f"{label}: {items}")
        if len(shown) > max_lines:
            out.append(f"  ... {len(shown) - max_lines} more lines")
    return "\n".join(out)
