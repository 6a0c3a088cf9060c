"""Secret key-name rules: is the value under this key (or ``NAME=``) a secret?

A name is split into lowercase words (``OPENAI_API_KEY``, ``x-api-key``, ``clientSecret``
and ``llm.token_count.prompt`` all work). The *last* secret-looking word decides the rule;
a qualifier after it (``token_count``, ``password_length``, ``secret_name``,
``private_key_id``) makes the name describe metadata *about* a secret rather than hold
one. ``tokens`` in the plural is a count in AI telemetry (``prompt_tokens``,
``gen_ai.usage.input_tokens``), never a credential, and so is a singular ``token`` after
a counting word (``max_token``, ``eos_token`` from a tokenizer config).
"""

from __future__ import annotations

import functools
import re
from typing import Final, NamedTuple

__all__ = ["KEYWORDS", "KeyRule", "key_rule", "split_words"]


class KeyRule(NamedTuple):
    rule: str
    #: Only a dict/list value is redacted (``environment: "production"`` is harmless,
    #: ``environment: {...}`` is a process environment).
    container_only: bool = False


#: Every name that :func:`key_rule` flags contains one of these (lowercased); the text
#: scanner uses them as its cheap pre-filter, and a test holds the two in step.
KEYWORDS: Final = (
    "pass",
    "pwd",
    "secret",
    "token",
    "key",
    "auth",
    "cred",
    "cookie",
    "dsn",
    "conn",
    "otp",
    "jwt",
    "bearer",
    "env",
)

_CAMEL_LOWER_UPPER = re.compile(r"([a-z0-9])([A-Z])")
_CAMEL_ACRONYM = re.compile(r"([A-Z]+)([A-Z][a-z])")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")

_PASSWORD_WORDS: Final = frozenset(
    {"pwd", "pass", "passwd", "password", "passwords", "passcode", "passphrase", "otp", "totp"}
)
_CREDENTIAL_WORDS: Final = frozenset({"credential", "credentials", "creds", "cred"})
_AUTH_WORDS: Final = frozenset({"authorization", "authorisation", "auth", "proxyauthorization"})
_KEY_COMPOUNDS: Final = {
    "apikey": "api_key",
    "accesskey": "api_key",
    "secretkey": "secret",
    "privatekey": "private_key",
    "signingkey": "private_key",
    "sshkey": "private_key",
    "masterkey": "api_key",
    "encryptionkey": "api_key",
    "accountkey": "api_key",
    "subscriptionkey": "api_key",
    "licensekey": "api_key",
    "clientkey": "api_key",
    "consumerkey": "api_key",
    "appkey": "api_key",
    "servicekey": "api_key",
    "secretaccesskey": "aws_secret_key",
}
#: ``<qualifier>_key`` is a credential; ``sort_key``, ``cache_key``, ``primary_key``,
#: ``idempotency_key`` are not.
_KEY_QUALIFIERS: Final = frozenset(
    {
        "api",
        "access",
        "secret",
        "private",
        "signing",
        "sign",
        "encryption",
        "encrypt",
        "decryption",
        "master",
        "client",
        "account",
        "auth",
        "license",
        "subscription",
        "app",
        "application",
        "service",
        "admin",
        "webhook",
        "consumer",
        "developer",
        "ssh",
        "gpg",
        "pgp",
        "shared",
        "storage",
        "sas",
        "hmac",
        "jwt",
        "session",
        "security",
        "root",
        "bot",
        "personal",
        "deploy",
        "ingest",
        "write",
        "openai",
        "anthropic",
        "claude",
        "groq",
        "cohere",
        "mistral",
        "gemini",
        "google",
        "huggingface",
        "hf",
        "replicate",
        "stripe",
        "github",
        "gitlab",
        "slack",
        "aws",
        "azure",
        "gcp",
        "langfuse",
        "pinecone",
        "together",
        "fireworks",
        "deepseek",
        "xai",
        "perplexity",
        "voyage",
        "elevenlabs",
        "serper",
        "tavily",
        "exa",
        "jina",
        "openrouter",
        "sendgrid",
        "twilio",
        "mailgun",
        "datadog",
        "sentry",
        "posthog",
        "supabase",
        "firebase",
        "vercel",
        "cloudflare",
        "nvidia",
        "brave",
        "stacklens",
    }
)
_PRIVATE_QUALIFIERS: Final = frozenset({"private", "ssh", "gpg", "pgp", "signing", "sign"})
#: A counting or tokenizer word before a singular ``token``: a count or a vocabulary
#: entry, not a credential.
_COUNT_PREFIX: Final = frozenset(
    {
        "max",
        "min",
        "num",
        "n",
        "total",
        "input",
        "output",
        "prompt",
        "completion",
        "cached",
        "cache",
        "reasoning",
        "per",
        "avg",
        "mean",
        "first",
        "next",
        "last",
        "end",
        "start",
        "stop",
        "special",
        "eos",
        "bos",
        "pad",
        "unk",
        "sep",
        "cls",
        "mask",
        "generated",
        "context",
        "new",
        "sampled",
        "top",
    }
)
#: Words after the secret word that make the name metadata about a secret.
_META: Final = frozenset(
    {
        "count",
        "counts",
        "num",
        "number",
        "len",
        "length",
        "size",
        "limit",
        "limits",
        "max",
        "min",
        "total",
        "usage",
        "used",
        "remaining",
        "budget",
        "estimate",
        "type",
        "types",
        "kind",
        "name",
        "names",
        "id",
        "ids",
        "index",
        "idx",
        "ttl",
        "expires",
        "expiry",
        "expiration",
        "exp",
        "expire",
        "expired",
        "at",
        "time",
        "timestamp",
        "ts",
        "date",
        "created",
        "updated",
        "changed",
        "rotated",
        "rotation",
        "age",
        "url",
        "uri",
        "endpoint",
        "path",
        "file",
        "filename",
        "dir",
        "location",
        "policy",
        "required",
        "enabled",
        "enable",
        "disabled",
        "set",
        "present",
        "provided",
        "valid",
        "validated",
        "invalid",
        "missing",
        "exists",
        "source",
        "method",
        "methods",
        "mode",
        "scheme",
        "provider",
        "providers",
        "strategy",
        "format",
        "version",
        "hint",
        "prefix",
        "fingerprint",
        "rate",
        "per",
        "second",
        "seconds",
        "sec",
        "ms",
        "in",
        "out",
        "input",
        "output",
        "prompt",
        "completion",
        "cached",
        "cache",
        "reasoning",
        "label",
        "labels",
        "description",
        "desc",
        "status",
        "state",
        "error",
        "errors",
        "check",
        "checks",
        "scope",
        "scopes",
        "user",
        "username",
        "login",
        "email",
        "region",
        "owner",
        "issuer",
        "audience",
        "algorithm",
        "alg",
        "store",
        "manager",
        "vault",
        "ref",
        "reference",
        "strength",
        "rule",
        "rules",
        "reset",
        "mask",
        "masked",
        "redacted",
        "last4",
        "ok",
        "success",
        "failed",
        "failure",
        "retries",
        "attempts",
        "level",
        "list",
        "keys",
        "domain",
        "server",
        "service",
        "host",
        "lifetime",
        "duration",
    }
)
_ENV_ANY: Final = frozenset(
    {"environ", "environmentvariables", "envvars", "envvariables", "environvars", "processenv"}
)
_ENV_CONTAINER: Final = frozenset({"env", "environment", "envs"})
_ENV_PREFIXES: Final = _ENV_ANY | _ENV_CONTAINER
_NOT_SECRET_WORDS: Final = frozenset({"secretary", "secretaries", "secretariat"})


def split_words(name: str) -> list[str]:
    """``"OPENAI_API_KEY"``, ``"clientSecret"``, ``"x-api-key"`` → lowercase words."""
    spaced = _CAMEL_LOWER_UPPER.sub(r"\1 \2", _CAMEL_ACRONYM.sub(r"\1 \2", name))
    return [word for word in _NON_ALNUM.split(spaced.lower()) if word]


def _word_rule(words: list[str], index: int) -> str | None:
    word = words[index]
    prev = words[index - 1] if index else ""
    if word in _PASSWORD_WORDS or "passw" in word:
        return "password"
    if word in _KEY_COMPOUNDS:
        return _KEY_COMPOUNDS[word]
    if "secret" in word and word not in _NOT_SECRET_WORDS:
        return "secret"
    if word == "token" or (word.endswith("token") and len(word) > 5):
        return None if prev in _COUNT_PREFIX else "token"
    if word in ("jwt", "bearer"):
        return "token"
    if word == "key":
        if prev in _PRIVATE_QUALIFIERS:
            return "private_key"
        if prev == "secret":
            return "secret"
        return "api_key" if prev in _KEY_QUALIFIERS else None
    if word.endswith("apikey"):
        return "api_key"
    if word in _AUTH_WORDS:
        return "authorization"
    if word.endswith("cookie") or word == "cookies":
        return "cookie"
    if word in _CREDENTIAL_WORDS:
        return "credentials"
    if word in ("dsn", "connectionstring", "connstr") or (
        (word == "string" and prev == "connection") or (word == "str" and prev == "conn")
    ):
        return "connection_string"
    return None


@functools.lru_cache(maxsize=8192)
def key_rule(name: str) -> KeyRule | None:
    """The rule whose secret this key holds, or ``None`` for an ordinary key."""
    if len(name) > 200:
        return None  # a sentence used as a key: the value scanner handles it
    words = split_words(name)
    if not words:
        return None
    joined = "".join(words)
    if joined in _ENV_ANY:
        return KeyRule("env")
    if joined in _ENV_CONTAINER:
        return KeyRule("env", container_only=True)
    head, dot, _ = name.partition(".")
    if dot and "".join(split_words(head)) in _ENV_PREFIXES:
        # A flattened environment (``env.HOME``), as attribute flattening produces.
        return KeyRule("env")
    for index in range(len(words) - 1, -1, -1):
        rule = _word_rule(words, index)
        if rule is None:
            continue
        if any(word in _META for word in words[index + 1 :]):
            return None
        if (
            rule in ("secret", "api_key")
            and "secret" in joined
            and ("aws" in words or "access" in words)
        ):
            rule = "aws_secret_key"
        return KeyRule(rule)
    return None
