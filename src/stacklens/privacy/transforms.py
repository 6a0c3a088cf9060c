"""Field transforms of seed 000 §5.1: bash commands → command names, file paths →
patterns, prompt text → statistics.

Each is idempotent (its output is a fixed point) and never raises.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["command_names", "content_stats", "file_path_pattern"]

# --- bash commands -------------------------------------------------------------------

_OPERATORS: Final = ("&&", "||", "|&", ";;", "|", ";", "&")
_OP_OUT: Final = {"&&": "&&", "||": "||", "|&": "|", ";;": ";", "|": "|", ";": ";", "&": "&"}
_ASSIGNMENT: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\[[^\]]*\])?\+?=")
_REDIRECT: Final = re.compile(r"[0-9]*(?:&>>?|>>?&?|<<<|<<-?|<>|<&|>\|)")
_SAFE_NAME: Final = re.compile(r"[A-Za-z0-9_?][\w.+\-@]{0,63}")
#: Not a plausible executable name: 12+ characters of letters and digits with no word
#: separator, mixing upper case, lower case and digits (a base64 line of a key pasted
#: into a command, a token), or with a ``+`` (base64, never in a program's name but
#: ``g++``/``c++`` style, which is short).
_RANDOM_NAME: Final = re.compile(
    r"(?=[^a-z]*[a-z])(?=[^A-Z]*[A-Z])(?=[^0-9]*[0-9])[A-Za-z0-9]{12,}|(?=.{8,})[\w.\-]*\+[\w.+\-]*[A-Za-z0-9]"
)
_RANDOM_WORD: Final = re.compile(
    r"(?=[^a-z]*[a-z])(?=[^A-Z]*[A-Z])(?=[^0-9]*[0-9])(?=.{16,})[A-Za-z0-9+/]*[+][A-Za-z0-9+/]*=*"
)
#: Words that run the command after them; value: options that take an argument.
_PREFIXES: Final[dict[str, frozenset[str]]] = {
    "sudo": frozenset({"-u", "-g", "-h", "-p", "-C", "-D", "-R", "-T", "-U", "-r", "-t"}),
    "doas": frozenset({"-u", "-C"}),
    "env": frozenset({"-u", "-C", "-S", "--unset", "--chdir", "--split-string"}),
    "nohup": frozenset(),
    "time": frozenset({"-f", "-o", "--format", "--output"}),
    "xargs": frozenset({"-I", "-n", "-P", "-L", "-d", "-s", "-E", "-a", "-i", "-l", "-e"}),
    "nice": frozenset({"-n", "--adjustment"}),
    "ionice": frozenset({"-c", "-n", "-p", "-t"}),
    "timeout": frozenset({"-s", "-k", "--signal", "--kill-after"}),
    "stdbuf": frozenset({"-i", "-o", "-e"}),
    "exec": frozenset({"-a"}),
    "command": frozenset(),
    "builtin": frozenset(),
    "caffeinate": frozenset({"-t", "-w"}),
}
#: Prefixes followed by one positional argument before the command (the duration).
_POSITIONAL_PREFIXES: Final = frozenset({"timeout"})
#: Shell keywords that start a command list without being a command themselves.
_KEYWORDS: Final = frozenset({"if", "then", "else", "elif", "do", "while", "until", "!", "{", "}"})
_CLOSERS: Final = frozenset({"fi", "done", "esac"})
_MAX_NAMES: Final = 64


def _skip_group(text: str, index: int, opener: str, closer: str) -> int:
    """Index just past the ``closer`` matching the ``opener`` at ``index``."""
    depth = 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == opener:
            depth += 1
        elif char == closer:
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    return index


def _read_word(text: str, index: int) -> tuple[str, int]:
    """One shell word from ``index``: quotes removed, substitutions kept opaque."""
    out: list[str] = []
    length = len(text)
    while index < length:
        char = text[index]
        if char in " \t\n;&|()<>":
            break
        if char == "\\":
            out.append(text[index + 1 : index + 2])
            index += 2
        elif char in "'\"":
            end = index + 1
            while end < length and text[end] != char:
                end += 2 if (char == '"' and text[end] == "\\") else 1
            out.append(text[index + 1 : end])
            index = end + 1
        elif char == "$" and text.startswith("$(", index):
            end = _skip_group(text, index + 1, "(", ")")
            out.append(text[index:end])
            index = end
        elif char == "`":
            end = text.find("`", index + 1)
            end = length if end == -1 else end + 1
            out.append(text[index:end])
            index = end
        else:
            out.append(char)
            index += 1
    return "".join(out), index


def _tokens(text: str) -> list[tuple[str, str]]:
    """Shell tokens as ``("w", word)``, ``("op", operator)``, ``("r", redirect)``."""
    tokens: list[tuple[str, str]] = []
    heredocs: list[str] = []
    index, length = 0, len(text)
    while index < length:
        char = text[index]
        if char in " \t\r":
            index += 1
        elif char == "\n":
            tokens.append(("op", ";"))
            index += 1
            while heredocs:  # a here-document body is data, never commands
                delimiter = heredocs.pop(0)
                while index < length:
                    end = text.find("\n", index)
                    end = length if end == -1 else end
                    line = text[index:end]
                    index = end + 1
                    if line.strip() == delimiter:
                        break
        elif char == "#" and (index == 0 or text[index - 1] in " \t\n;&|("):
            end = text.find("\n", index)
            index = length if end == -1 else end
        elif char in "()":
            tokens.append(("op", char))
            index += 1
        else:
            redirect = _REDIRECT.match(text, index)
            if redirect and (redirect.group()[0] in "<>&" or redirect.end() - index > 1):
                op = redirect.group()
                index = redirect.end()
                if op.endswith("&"):
                    # 2>&1: the target is a descriptor, part of the redirect itself
                    while index < length and (text[index].isdigit() or text[index] == "-"):
                        index += 1
                    continue
                while index < length and text[index] in " \t":
                    index += 1
                if index < length and text[index] == "(":  # process substitution <(...)
                    index = _skip_group(text, index, "(", ")")
                    continue
                target, index = _read_word(text, index)
                if op.lstrip("0123456789").startswith("<<") and not op.endswith("<<<"):
                    heredocs.append(target)
                tokens.append(("r", op))
                continue
            for op in _OPERATORS:
                if text.startswith(op, index):
                    tokens.append(("op", op))
                    index += len(op)
                    break
            else:
                word, end = _read_word(text, index)
                if end == index:  # a lone metacharacter we do not model
                    index += 1
                    continue
                tokens.append(("w", word))
                index = end
    return tokens


def _command_word(words: list[str]) -> str | None:
    """The command a simple command runs, past assignments and prefixes."""
    position = 0
    last_prefix: str | None = None
    while position < len(words):
        word = words[position]
        if _ASSIGNMENT.match(word):
            position += 1
            continue
        if _RANDOM_WORD.fullmatch(word):
            return "?"  # a base64 line (of a key) is no path to a program
        name = word.rsplit("/", 1)[-1].rsplit("\\", 1)[-1] or word
        if name in _KEYWORDS:
            position += 1
            continue
        if name in _PREFIXES:
            last_prefix = name
            with_argument = _PREFIXES[name]
            position += 1
            while position < len(words):
                option = words[position]
                if option == "--":
                    position += 1
                    break
                if not option.startswith("-") or option == "-":
                    break
                position += 2 if option in with_argument else 1
            if name in _POSITIONAL_PREFIXES and position < len(words):
                position += 1
            continue
        return name
    return last_prefix


def _safe(name: str, found: list[str]) -> str:
    from stacklens.privacy.detectors import scrub_text

    if name in ("[", "[["):
        return name
    if (
        scrub_text(name, found) is not name
        or not _SAFE_NAME.fullmatch(name)
        or _RANDOM_NAME.fullmatch(name)
    ):
        return "?"
    return name


def command_names(command: str, found: list[str] | None = None) -> str:
    """``FOO=1 sudo -E /usr/bin/git push https://t@h/x && curl -H 'A: b' u | grep y``
    → ``git && curl | grep``: command names joined by their operators, never arguments.

    Assignments, ``sudo``/``env``/``nohup``/``time``/``xargs``/... prefixes with their
    options, paths (basename kept), subshells, quotes, comments, redirections and
    here-documents are understood; a name that is not a plain word becomes ``?``.
    """
    sink: list[str] = [] if found is None else found
    try:
        tokens = _tokens(command)
    except (IndexError, ValueError):  # pragma: no cover - the tokenizer is total
        return "?"
    out: list[str] = []
    words: list[str] = []

    def flush() -> None:
        if words and len(out) < _MAX_NAMES * 2:
            name = _command_word(words)
            if name is not None and name not in _CLOSERS:
                if out and out[-1] not in _OP_OUT.values():
                    out.append(";")
                out.append(_safe(name, sink))
        words.clear()

    for kind, value in tokens:
        if kind == "w":
            words.append(value)
        elif kind == "op":
            flush()
            if value in _OP_OUT and out and out[-1] not in _OP_OUT.values():
                out.append(_OP_OUT[value])
    flush()
    while out and out[-1] in _OP_OUT.values():
        out.pop()
    return " ".join(out)


# --- file paths -----------------------------------------------------------------------

_EXTENSION: Final = re.compile(r"[A-Za-z0-9_+\-]{1,10}")
_HOME_PARENTS: Final = frozenset({"home", "users"})


def file_path_pattern(path: str) -> str:
    """``/home/alice/project/src/app.ts`` → ``/home/<user>/project/src/*.ts``.

    The user's name after ``/home``, ``/Users`` or ``C:\\Users`` becomes ``<user>``
    (``/root`` stays); the file name becomes ``*`` plus its extension; other directory
    names are kept (the caller runs them through the value detectors).
    """
    separator = "\\" if "\\" in path and "/" not in path else "/"
    parts = path.split(separator)
    for index in range(1, min(len(parts) - 1, 5)):
        if parts[index - 1].lower() in _HOME_PARENTS and parts[index]:
            parts[index] = "<user>"
    name = parts[-1]
    if name and name not in (".", ".."):
        stem, dot, extension = name.rpartition(".")
        parts[-1] = "*." + extension if dot and stem and _EXTENSION.fullmatch(extension) else "*"
    return separator.join(parts)


# --- prompt and response text ------------------------------------------------------------


def content_stats(text: str) -> tuple[int, int]:
    """(length in characters, whitespace-separated words)."""
    return len(text), len(text.split())
