"""Privacy: redaction rules and engine, shared by the SDK and ingest.

Pure (standard library and msgspec only). See DESIGN.md "Privacy" and seed 000 §5::

    redactor = Redactor(key, policies={"support-bot": PrivacyPolicy(content="store")})
    event, findings = redactor.redact_event(canonical_event)
"""

from __future__ import annotations

from stacklens.privacy.detectors import VALUE_RULES, sanitize_url, scrub_text
from stacklens.privacy.key_names import key_rule
from stacklens.privacy.policy import ContentMode, Finding, PrivacyPolicy, RedactionResult
from stacklens.privacy.redactor import Redactor
from stacklens.privacy.report import LineReport, check_lines, format_report
from stacklens.privacy.transforms import command_names, file_path_pattern
from stacklens.privacy.walker import MAX_DEPTH

__all__ = [
    "MAX_DEPTH",
    "VALUE_RULES",
    "ContentMode",
    "Finding",
    "LineReport",
    "PrivacyPolicy",
    "RedactionResult",
    "Redactor",
    "check_lines",
    "command_names",
    "file_path_pattern",
    "format_report",
    "key_rule",
    "sanitize_url",
    "scrub_text",
]
