"""Planted secrets and innocuous look-alikes, for tests of every path an event takes.

Every secret is fake (generated at import from a fixed seed) but has the exact shape of
the real thing, so the detectors cannot tell the difference. Tests plant them through
any endpoint with :func:`secret_events` and then grep what was stored or served for
:func:`encoded_forms` of every entry of :data:`SECRETS`; :data:`INNOCUOUS` and
:func:`innocuous_events` check that ordinary telemetry comes through untouched.

The events are *raw* native-contract events (RFC 3339 timestamps, stack ``planted``),
ready to be posted to ``/v1/events`` or run through ``schema.normalize``.
"""

from __future__ import annotations

import base64
import json
import random
import string
import urllib.parse
from collections.abc import Callable
from typing import Any, Final

__all__ = [
    "ADOPTED_FORMAT_SECRETS",
    "INNOCUOUS",
    "INNOCUOUS_KEYS",
    "SECRETS",
    "SHAPED_SECRETS",
    "SHAPELESS_SECRETS",
    "STACK",
    "encoded_forms",
    "false_positives",
    "innocuous_events",
    "secret_events",
]

STACK: Final = "planted"
_rng = random.Random(0x5EC12E75)
_ALNUM: Final = string.ascii_letters + string.digits
_UPPER_NUM: Final = string.ascii_uppercase + string.digits
_B64URL: Final = _ALNUM + "-_"
_B64: Final = _ALNUM + "+/"
_PASSWORD_CHARS: Final = _ALNUM + "!#%*-_.+^~"


def _rand(alphabet: str, length: int) -> str:
    # At least one digit and one letter, as any real random key of this length has.
    while True:
        text = "".join(_rng.choice(alphabet) for _ in range(length))
        if length < 8 or (any(c.isdigit() for c in text) and any(c.isalpha() for c in text)):
            return text


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwt(alg: str, signature_bytes: int) -> str:
    header = _b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    payload = _b64url(
        json.dumps(
            {"sub": _rand(_ALNUM, 12), "iat": 1732000000, "exp": 1732003600, "scope": "chat"}
        ).encode()
    )
    return f"{header}.{payload}.{_b64url(_rng.randbytes(signature_bytes))}"


def _pem(label: str, body_bytes: int) -> str:
    body = base64.b64encode(_rng.randbytes(body_bytes)).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"


# --- the secrets -------------------------------------------------------------------------

OPENAI_LEGACY: Final = "sk-" + _rand(_ALNUM, 20) + "T3BlbkFJ" + _rand(_ALNUM, 20)
OPENAI_PROJECT: Final = "sk-proj-" + _rand(_B64URL, 156)
OPENAI_SERVICE: Final = "sk-svcacct-" + _rand(_B64URL, 100)
ANTHROPIC: Final = "sk-ant-api03-" + _rand(_B64URL, 93) + "AA"
ANTHROPIC_ADMIN: Final = "sk-ant-admin01-" + _rand(_B64URL, 93) + "AA"
GOOGLE_API: Final = "AIza" + _rand(_B64URL, 35)
GOOGLE_OAUTH: Final = "ya29." + _rand(_B64URL, 120)
GOOGLE_CLIENT_SECRET: Final = "GOCSPX-" + _rand(_B64URL, 28)
GROQ: Final = "gsk_" + _rand(_ALNUM, 52)
HUGGINGFACE: Final = "hf_" + _rand(_ALNUM, 34)
REPLICATE: Final = "r8_" + _rand(_ALNUM, 37)
XAI: Final = "xai-" + _rand(_ALNUM, 80)
PERPLEXITY: Final = "pplx-" + _rand(_ALNUM, 48)
NVIDIA: Final = "nvapi-" + _rand(_B64URL, 64)
AWS_ACCESS_KEY: Final = "AKIA" + _rand(_UPPER_NUM, 16)
AWS_SESSION_KEY: Final = "ASIA" + _rand(_UPPER_NUM, 16)
AWS_SECRET_KEY: Final = _rand(_B64, 40)
GCP_PRIVATE_KEY: Final = _pem("PRIVATE KEY", 600)
RSA_PRIVATE_KEY: Final = _pem("RSA PRIVATE KEY", 400)
OPENSSH_PRIVATE_KEY: Final = _pem("OPENSSH PRIVATE KEY", 300)
AZURE_ACCOUNT_KEY: Final = base64.b64encode(_rng.randbytes(64)).decode()
GITHUB_PAT_CLASSIC: Final = "ghp_" + _rand(_ALNUM, 36)
GITHUB_OAUTH: Final = "gho_" + _rand(_ALNUM, 36)
GITHUB_APP: Final = "ghs_" + _rand(_ALNUM, 36)
GITHUB_USER_TO_SERVER: Final = "ghu_" + _rand(_ALNUM, 36)
GITHUB_FINE_GRAINED: Final = "github_pat_" + _rand(_ALNUM, 22) + "_" + _rand(_ALNUM, 59)
GITLAB: Final = "glpat-" + _rand(_B64URL, 20)
SLACK_BOT: Final = f"xoxb-{_rng.randint(10**11, 10**12)}-{_rng.randint(10**12, 10**13)}-" + (
    _rand(_ALNUM, 24)
)
SLACK_USER: Final = f"xoxp-{_rng.randint(10**11, 10**12)}-{_rng.randint(10**11, 10**12)}-" + (
    f"{_rng.randint(10**11, 10**12)}-{_rand('0123456789abcdef', 32)}"
)
SLACK_APP: Final = f"xapp-1-A{_rand(_UPPER_NUM, 10)}-{_rng.randint(10**12, 10**13)}-" + (
    _rand("0123456789abcdef", 64)
)
SLACK_WEBHOOK_TOKEN: Final = _rand(_ALNUM, 24)
SLACK_WEBHOOK: Final = (
    f"https://hooks.slack.com/services/T{_rand(_UPPER_NUM, 8)}/B{_rand(_UPPER_NUM, 10)}/"
    + SLACK_WEBHOOK_TOKEN
)
DISCORD_WEBHOOK_TOKEN: Final = _rand(_B64URL, 68)
DISCORD_WEBHOOK: Final = (
    f"https://discord.com/api/webhooks/{_rng.randint(10**17, 10**18)}/{DISCORD_WEBHOOK_TOKEN}"
)
STRIPE_SECRET: Final = "sk_live_" + _rand(_ALNUM, 24)
STRIPE_RESTRICTED: Final = "rk_live_" + _rand(_ALNUM, 24)
STRIPE_WEBHOOK: Final = "whsec_" + _rand(_ALNUM, 32)
SENDGRID: Final = "SG." + _rand(_B64URL, 22) + "." + _rand(_B64URL, 43)
NPM: Final = "npm_" + _rand(_ALNUM, 36)
JWT_HS256: Final = _jwt("HS256", 32)
JWT_RS256: Final = _jwt("RS256", 256)
BEARER_OPAQUE: Final = _rand(_ALNUM + "-._~", 40)
BASIC_CREDENTIAL: Final = base64.b64encode(f"svc-reporting:{_rand(_ALNUM, 18)}".encode()).decode()
DB_URL_PASSWORD: Final = _rand(_ALNUM, 22)
GIT_URL_TOKEN: Final = _rand("0123456789abcdef", 40)
DB_PASSWORD: Final = _rand(_PASSWORD_CHARS, 24)
JSON_PASSWORD: Final = _rand(_PASSWORD_CHARS, 20)
YAML_PASSWORD: Final = _rand(_ALNUM, 18)
ATTR_PASSWORD: Final = _rand(_PASSWORD_CHARS, 16)
CLIENT_SECRET: Final = _rand(_ALNUM, 40)
MISTRAL_KEY: Final = _rand(_ALNUM, 32)
COHERE_KEY: Final = _rand(_ALNUM, 40)
HEADER_API_KEY: Final = _rand("0123456789abcdef", 32)
SESSION_COOKIE: Final = _rand(_B64URL, 64)
COOKIE_HEADER_VALUE: Final = _rand(_ALNUM, 32)
QUERY_API_KEY: Final = _rand(_ALNUM, 32)
AZURE_SAS_SIGNATURE: Final = _rand(_ALNUM, 43)
ENV_VALUE: Final = _rand(_ALNUM, 26)
ARGS_TOKEN: Final = _rand(_ALNUM, 30)
NESTED_ENCODED_KEY: Final = "sk-proj-" + _rand(_B64URL, 64)
PATH_TOKEN: Final = "hf_" + _rand(_ALNUM, 34)
KEY_NAME_SECRET: Final = "sk-" + _rand(_ALNUM, 48)
# Issue 11: forms that reached disk.
HUB_KEY: Final = "slk_" + _rand(_B64URL, 43)
TWILIO_KEY: Final = "SK" + _rand("0123456789abcdef", 32)
AWS_SECRET_BARE: Final = _rand(_B64, 40)
BASE64_ONLY_KEY: Final = "sk-ant-api03-" + _rand(_B64URL, 60) + "AA"  # planted as base64
HEX_ONLY_KEY: Final = "gsk_" + _rand(_ALNUM, 52)  # planted as hex text
BYTES_VALUE_KEY: Final = "sk-proj-" + _rand(_B64URL, 80)  # planted as OTLP bytesValue
URL_ENCODED_PASSWORD: Final = _rand(_ALNUM, 22)  # planted as password%3D...
COMMAND_PEM: Final = _pem("PRIVATE KEY", 300)  # unquoted in a Bash command
# Formats the hand-grown rules missed, caught by the rules adopted from detect-secrets.
_LOWER_NUM: Final = string.ascii_lowercase + string.digits
PYPI_TOKEN: Final = "pypi-AgEIcHlwaS5vcmc" + _rand(_B64URL, 80)
SQUARE_OAUTH: Final = "sq0csp-" + _rand(_B64URL, 43)
MAILCHIMP_KEY: Final = _rand(_LOWER_NUM, 32) + "-us14"
TELEGRAM_BOT: Final = f"{_rng.randint(10**8, 10**9 - 1)}:AA" + _rand(_B64URL, 33)
DISCORD_BOT: Final = "M" + _rand(_ALNUM, 23) + "." + _rand(_ALNUM, 6) + "." + _rand(_ALNUM, 27)
GITLAB_FEED: Final = "glft-" + _rand(_ALNUM, 20)
GITLAB_RUNNER: Final = "GR1348941" + _rand(_ALNUM, 20)
TWILIO_SID: Final = "AC" + _rand("0123456789abcdef", 32)
ARTIFACTORY: Final = "AKC" + _rand(_ALNUM, 70)
#: The planted detect-secrets formats (see :mod:`stacklens.privacy.maintained`).
ADOPTED_FORMAT_SECRETS: Final[list[str]] = [
    PYPI_TOKEN,
    SQUARE_OAUTH,
    MAILCHIMP_KEY,
    TELEGRAM_BOT,
    DISCORD_BOT,
    GITLAB_FEED,
    GITLAB_RUNNER,
    TWILIO_SID,
    ARTIFACTORY,
]

#: Every planted secret (raw text), each present somewhere in :func:`secret_events`.
SECRETS: Final[list[str]] = [
    OPENAI_LEGACY,
    OPENAI_PROJECT,
    OPENAI_SERVICE,
    ANTHROPIC,
    ANTHROPIC_ADMIN,
    GOOGLE_API,
    GOOGLE_OAUTH,
    GOOGLE_CLIENT_SECRET,
    GROQ,
    HUGGINGFACE,
    REPLICATE,
    XAI,
    PERPLEXITY,
    NVIDIA,
    AWS_ACCESS_KEY,
    AWS_SESSION_KEY,
    AWS_SECRET_KEY,
    GCP_PRIVATE_KEY,
    RSA_PRIVATE_KEY,
    OPENSSH_PRIVATE_KEY,
    AZURE_ACCOUNT_KEY,
    GITHUB_PAT_CLASSIC,
    GITHUB_OAUTH,
    GITHUB_APP,
    GITHUB_USER_TO_SERVER,
    GITHUB_FINE_GRAINED,
    GITLAB,
    SLACK_BOT,
    SLACK_USER,
    SLACK_APP,
    SLACK_WEBHOOK_TOKEN,
    DISCORD_WEBHOOK_TOKEN,
    STRIPE_SECRET,
    STRIPE_RESTRICTED,
    STRIPE_WEBHOOK,
    SENDGRID,
    NPM,
    JWT_HS256,
    JWT_RS256,
    BEARER_OPAQUE,
    BASIC_CREDENTIAL,
    DB_URL_PASSWORD,
    GIT_URL_TOKEN,
    DB_PASSWORD,
    JSON_PASSWORD,
    YAML_PASSWORD,
    ATTR_PASSWORD,
    CLIENT_SECRET,
    MISTRAL_KEY,
    COHERE_KEY,
    HEADER_API_KEY,
    SESSION_COOKIE,
    COOKIE_HEADER_VALUE,
    QUERY_API_KEY,
    AZURE_SAS_SIGNATURE,
    ENV_VALUE,
    ARGS_TOKEN,
    NESTED_ENCODED_KEY,
    PATH_TOKEN,
    KEY_NAME_SECRET,
    HUB_KEY,
    TWILIO_KEY,
    AWS_SECRET_BARE,
    BASE64_ONLY_KEY,
    HEX_ONLY_KEY,
    BYTES_VALUE_KEY,
    URL_ENCODED_PASSWORD,
    COMMAND_PEM,
    *ADOPTED_FORMAT_SECRETS,
]
assert len(set(SECRETS)) == len(SECRETS), "duplicate planted secret"

#: Secrets with a recognisable shape (vendor prefix, JWT, PEM block): they must be found
#: anywhere, even bare in free text with no hint around them.
SHAPED_SECRETS: Final[list[str]] = [
    OPENAI_LEGACY,
    OPENAI_PROJECT,
    OPENAI_SERVICE,
    ANTHROPIC,
    ANTHROPIC_ADMIN,
    GOOGLE_API,
    GOOGLE_OAUTH,
    GOOGLE_CLIENT_SECRET,
    GROQ,
    HUGGINGFACE,
    REPLICATE,
    XAI,
    PERPLEXITY,
    NVIDIA,
    AWS_ACCESS_KEY,
    AWS_SESSION_KEY,
    GCP_PRIVATE_KEY,
    RSA_PRIVATE_KEY,
    OPENSSH_PRIVATE_KEY,
    GITHUB_PAT_CLASSIC,
    GITHUB_OAUTH,
    GITHUB_APP,
    GITHUB_USER_TO_SERVER,
    GITHUB_FINE_GRAINED,
    GITLAB,
    SLACK_BOT,
    SLACK_USER,
    SLACK_APP,
    STRIPE_SECRET,
    STRIPE_RESTRICTED,
    STRIPE_WEBHOOK,
    SENDGRID,
    NPM,
    JWT_HS256,
    JWT_RS256,
    NESTED_ENCODED_KEY,
    PATH_TOKEN,
    KEY_NAME_SECRET,
    AWS_SECRET_KEY,
    HUB_KEY,
    TWILIO_KEY,
    AWS_SECRET_BARE,
    BASE64_ONLY_KEY,
    HEX_ONLY_KEY,
    BYTES_VALUE_KEY,
    COMMAND_PEM,
    *ADOPTED_FORMAT_SECRETS,
]
#: Random strings with no shape: found only through their context (a secret key name,
#: ``Bearer``, URL user info, ``NAME=value``), which is how they appear in real data.
SHAPELESS_SECRETS: Final[list[str]] = [s for s in SECRETS if s not in SHAPED_SECRETS]


def encoded_forms(secret: str) -> list[bytes]:
    """The forms a leaked secret would take on disk or on the wire: raw UTF-8, base64
    (standard and URL-safe), hex, URL-encoded, and JSON-escaped (for multi-line PEM
    keys); and each line of a multi-line secret on its own (a PEM body line kept alone
    is a leak)."""
    raw = secret.encode()
    forms = [
        raw,
        base64.b64encode(raw),
        base64.urlsafe_b64encode(raw),
        raw.hex().encode(),
        urllib.parse.quote(secret, safe="").encode(),
        json.dumps(secret)[1:-1].encode(),
    ]
    if "\n" in secret:
        forms += [line.encode() for line in secret.splitlines() if len(line) >= 16]
    return list(dict.fromkeys(forms))


def _pem_json(pem: str) -> str:
    return json.dumps(pem)[1:-1]


def _event(index: int, event_type: str, **fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": f"planted-{index:03d}",
        "timestamp": f"2024-11-22T10:{index // 60:02d}:{index % 60:02d}.000Z",
        "stack_name": STACK,
        "event_type": event_type,
        "session_id": "sess-planted-0001",
    }
    event.update(fields)
    return event


def secret_events() -> list[dict[str, Any]]:
    """Raw events embedding every :data:`SECRETS` entry, in many shapes and places."""
    service_account = json.dumps(
        {
            "type": "service_account",
            "project_id": "planted-project",
            "private_key_id": "0123456789abcdef",
            "private_key": GCP_PRIVATE_KEY,
            "client_email": "bot@planted-project.iam.gserviceaccount.com",
        }
    )
    inner = json.dumps({"provider": "openai", "api_key": NESTED_ENCODED_KEY})
    double_encoded = json.dumps({"request": {"headers": inner, "retries": 2}})
    return [
        _event(
            0,
            "log",
            level="info",
            message=f"starting worker with OPENAI_API_KEY={OPENAI_LEGACY} and model gpt-4o",
        ),
        _event(1, "log", level="debug", message=f"export ANTHROPIC_API_KEY={ANTHROPIC}"),
        _event(
            2,
            "error",
            level="error",
            message=f"401 from api: key {OPENAI_PROJECT} rejected (project archived)",
            data={"error_code": "auth_failed"},
        ),
        _event(
            3,
            "llm_call",
            message=f"groq fallback using {GROQ}",
            data={"model": "llama-3.1-70b-versatile", "provider": "groq", "tokens_in": 812},
            attributes={
                "gen_ai.system": "groq",
                "gen_ai.usage.input_tokens": 812,
                "llm.provider.key": XAI,
            },
        ),
        _event(
            4,
            "message",
            data={
                "role": "user",
                "model": "claude-3-5-sonnet-20241022",
                "content": f"my huggingface token is {HUGGINGFACE}, and the replicate one "
                f"{REPLICATE}; can you check why the upload fails?",
            },
        ),
        _event(
            5,
            "tool_use",
            data={
                "tool": "Bash",
                "command": f"export GITHUB_TOKEN={GITHUB_PAT_CLASSIC} && git clone "
                f"https://x-access-token:{GITHUB_APP}@github.com/acme/app.git && "
                f"curl -H 'Authorization: Bearer {BEARER_OPAQUE}' "
                f"https://api.acme.dev/v1/me | jq .",
                "args": {
                    "command": f"npm publish --//registry.npmjs.org/:_authToken={NPM}",
                    "token": ARGS_TOKEN,
                },
            },
        ),
        _event(
            6,
            "tool_use",
            data={"tool": "Read", "file_path": f"/home/alice/.cache/{PATH_TOKEN}/config.json"},
        ),
        _event(
            7,
            "tool_use",
            data={
                "tool": "WebFetch",
                "url": f"https://deploy:{DB_URL_PASSWORD}@api.example.com/v1/data?"
                f"api_key={QUERY_API_KEY}&page=2#top",
            },
        ),
        _event(
            8,
            "http_request",
            message=f"GET https://acct.blob.core.windows.net/c/blob.bin?sv=2022-11-02&sig="
            f"{AZURE_SAS_SIGNATURE}%3D 200",
            data={"method": "GET", "path": "/c/blob.bin", "status_code": 200},
        ),
        _event(
            9,
            "log",
            message=f"connecting postgres://app_user:{DB_URL_PASSWORD}@db.internal:5432/app "
            f"and git remote https://{GIT_URL_TOKEN}@git.example.com/infra.git",
        ),
        _event(
            10, "log", message=f'config loaded: {{"user": "svc", "password": "{JSON_PASSWORD}"}}'
        ),
        _event(11, "log", message=f"db:\n  host: db.internal\n  password: {YAML_PASSWORD}\n"),
        _event(
            12,
            "span",
            attributes={
                "db_password": ATTR_PASSWORD,
                "http.request.header.x-api-key": HEADER_API_KEY,
                "clientSecret": CLIENT_SECRET,
                "session_cookie": SESSION_COOKIE,
                "gen_ai.request.model": "gpt-4o",
            },
        ),
        _event(
            13,
            "span",
            attributes={
                KEY_NAME_SECRET: "value-under-a-secret-key",
                f"auth.{GITHUB_OAUTH}": 1,
                "service_account_json": service_account,
            },
        ),
        _event(
            14,
            "log",
            message=f"Cookie: sessionid={COOKIE_HEADER_VALUE}; theme=dark",
            data={"request_body": double_encoded},
        ),
        _event(
            15,
            "error",
            message=f"failed to load key:\n{RSA_PRIVATE_KEY}",
            data={"ssh": {"identity": OPENSSH_PRIVATE_KEY, "host": "bastion.internal"}},
        ),
        _event(
            16,
            "tool_use",
            data={
                "tool": "Bash",
                "command": "python train.py",
                "env": {
                    "HOME": "/home/alice",
                    "INTERNAL_SETTING": ENV_VALUE,
                    "MISTRAL_API_KEY": MISTRAL_KEY,
                },
            },
            attributes={"environment": "production"},
        ),
        _event(
            17,
            "log",
            message=f"AWS creds AKIA={AWS_ACCESS_KEY} session {AWS_SESSION_KEY}",
            data={
                "aws": {
                    "aws_access_key_id": AWS_ACCESS_KEY,
                    "aws_secret_access_key": AWS_SECRET_KEY,
                }
            },
        ),
        _event(
            18,
            "log",
            message="storage: DefaultEndpointsProtocol=https;AccountName=plantedacct;"
            f"AccountKey={AZURE_ACCOUNT_KEY};EndpointSuffix=core.windows.net",
        ),
        _event(
            19,
            "log",
            message=f"slack bot {SLACK_BOT} user {SLACK_USER} socket {SLACK_APP}",
            data={"alert_webhook": SLACK_WEBHOOK, "discord": [DISCORD_WEBHOOK]},
        ),
        _event(
            20,
            "log",
            message=f"stripe {STRIPE_SECRET}, restricted {STRIPE_RESTRICTED}",
            attributes={"webhook.secret": STRIPE_WEBHOOK, "mail.provider.key": SENDGRID},
        ),
        _event(
            21,
            "http_request",
            session_id=JWT_HS256,
            message=f"Authorization: Basic {BASIC_CREDENTIAL}",
            data={"headers": {"Authorization": f"Bearer {JWT_RS256}", "Accept": "*/*"}},
        ),
        _event(
            22,
            "log",
            message=f"gitlab {GITLAB} and fine-grained {GITHUB_FINE_GRAINED} "
            f"ghu {GITHUB_USER_TO_SERVER}",
            data={
                "providers": [
                    {"name": "google", "apiKey": GOOGLE_API},
                    {"name": "gemini", "oauth": {"access_token": GOOGLE_OAUTH}},
                    {"name": "cohere", "cohere_api_key": COHERE_KEY},
                ]
            },
        ),
        _event(
            23,
            "llm_call",
            data={
                "model": "gpt-4o",
                "provider": "openai",
                "extra": json.dumps([{"svc": OPENAI_SERVICE}, {"admin": ANTHROPIC_ADMIN}]),
            },
            attributes={
                "oauth.client": f"client_secret={GOOGLE_CLIENT_SECRET}",
                "perplexity": f"key {PERPLEXITY}",
                "nim": f"Bearer {NVIDIA}",
            },
        ),
        _event(
            24,
            "message",
            message=f"assistant echoed a key: {GCP_PRIVATE_KEY} and {_pem_json(RSA_PRIVATE_KEY)}",
            data={"role": "assistant", "content": f"DB_PASSWORD={DB_PASSWORD} is in the env file"},
        ),
        _event(
            25,
            "log",
            message=f"retrying with DB_PASSWORD={DB_PASSWORD}",
            attributes={"x.credentials": json.dumps({"password": DB_PASSWORD})},
        ),
        _event(
            26,
            "log",
            message=f"hub key {HUB_KEY} and twilio {TWILIO_KEY} and aws {AWS_SECRET_BARE}",
            attributes={
                "blob": base64.b64encode(f"Authorization: {BASE64_ONLY_KEY}".encode()).decode(),
                "digest": HEX_ONLY_KEY.encode().hex(),
                "raw_bytes": BYTES_VALUE_KEY,
            },
        ),
        _event(
            27,
            "http_request",
            message="POST /login body=user%3Dsvc%26password%3D" + URL_ENCODED_PASSWORD,
            data={"method": "POST", "path": "/login", "status_code": 302},
        ),
        _event(
            28,
            "tool_use",
            data={"tool": "Bash", "command": f"echo {COMMAND_PEM} > id.pem && chmod 600 id.pem"},
        ),
        _event(
            29,
            "log",
            message=f"publishing with {PYPI_TOKEN}, square {SQUARE_OAUTH}",
            data={
                "mailchimp": MAILCHIMP_KEY,
                "notify": f"https://api.telegram.org/bot{TELEGRAM_BOT}/sendMessage",
                "discord": {"bot": DISCORD_BOT},
                "ci": [f"feed {GITLAB_FEED}", f"runner={GITLAB_RUNNER}"],
            },
            attributes={"twilio.account": TWILIO_SID, "artifactory": f'"{ARTIFACTORY}"'},
        ),
    ]


# --- innocuous look-alikes ---------------------------------------------------------------

#: Strings that resemble secrets (random-looking ids, digests, "token"/"key" words) and
#: must come through redaction unchanged.
INNOCUOUS: Final[list[str]] = [
    "9fceb02d0ae598e95dc970b74767f19372d61af8",
    "e83c5163316f89bfbde7d9ab23ca2e25604af290",
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "3f1c2b9e-7d4a-4f6b-9a2c-8e5d1f0b7c3a",
    "01HX5ZQK3J8V9W2N4R6T7Y8B0C",
    "01ARZ3NDEKTSV4RRFFQ69G5FAV",
    "4bf92f3577b34da6a3ce929d0e0e4736",
    "00f067aa0ba902b7",
    "claude-3-5-sonnet-20241022",
    "claude-3-5-haiku-latest",
    "gpt-4o-mini",
    "gpt-4o-2024-08-06",
    "o1-preview",
    "text-embedding-3-small",
    "llama-3.1-70b-versatile",
    "mistral-large-latest",
    "gemini-1.5-pro-002",
    "sentence-transformers/all-MiniLM-L6-v2",
    "main.py",
    "docker-compose.yml",
    "package-lock.json",
    "src/stacklens/privacy/engine.py",
    "/usr/local/bin/python3.11",
    "The quick brown fox jumps over the lazy dog.",
    "Please summarize the key points of this document in three bullet points.",
    "The author's key insight is that caching tokens saves money.",
    "Password reset email sent to the user.",
    "Use the Authorization header with the Bearer scheme.",
    "Basic usage: run the command with --help for options.",
    "bearer of good news",
    "Tokens used: 1234 of 8192",
    "prompt_tokens=512 completion_tokens=128 total_tokens=640",
    "max_tokens=4096 temperature=0.7 top_p=0.9",
    "token_count: 17",
    "gen_ai.usage.input_tokens",
    "llm.token_count.prompt",
    "auth_method=oauth2 provider=google",
    "secret_name: prod-db-credentials-ref",
    "cache_key=user:42:profile hit",
    "sort_key=created_at order=desc",
    "primary_key: id",
    "passed: 12, failed: 0, skipped: 1",
    "pass@1: 0.82",
    "keyboard layout: us-intl",
    "author: Jane Doe",
    "monkey patching the client for tests",
    "risk-assessment-2024-report-final",
    "task-1234567890abcdefghij",
    "desk-booking-service-v2",
    "1.2.3",
    "v2.10.0-rc.1",
    "3.14159",
    "1732000000000",
    "42",
    "dGhpcyBpcyBub3QgYSBzZWNyZXQ=",
    "aGVsbG8gd29ybGQ=",
    "eyJhIjoxfQ==",
    "QmFzaWMgZXhhbXBsZQ",
    "https://github.com/anthropics/anthropic-sdk-python/pull/123",
    "https://docs.python.org/3/library/re.html",
    "http://localhost:8080/healthz",
    "GET /v1/chat/completions 200 in 532ms",
    "retrying in 2s (attempt 3/5)",
    "Accept-Encoding: gzip, deflate",
    "Content-Type: application/json",
    "user_id=42 session_id=01HX5ZQK3J8V9W2N4R6T7Y8B0C",
    "model=claude-3-5-sonnet-20241022 tokens_in=812 tokens_out=97 cost_usd=0.0041",
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ops@host",
    "AKIA is the prefix of AWS access key ids",
    "sk-learn-classification-pipeline-model",
    "ghost_protocol_enabled",
    "environment: production",
    "deployment.environment=staging",
    "The key: value pairs are stored in a dict.",
    "Error: connection refused (os error 111)",
    "alice@example.com",
    "us-east-1",
    "k8s-pod-7d9f8b6c5-x2v4q",
    "TODO(alice): remove the legacy token bucket limiter",
    'Traceback (most recent call last):\n  File "app.py", line 3, in <module>',
    # Look-alikes of the issue-11 detectors (bare 40-character keys, encoded forms):
    # digests, ids and base64 that a naive entropy or decode rule would flag.
    "da39a3ee5e6b4b0d3255bfef95601890afd80709",
    "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709",
    "commit 9fceb02d0ae598e95dc970b74767f19372d61af8 (HEAD -> main)",
    "0x3f1c2b9e7d4a4f6b9a2c8e5d1f0b7c3a00f067aa",
    'ETag: "33a64df551425fcc55e4d42a148795d9f25f89d4"',
    "5f4dcc3b5aa765d61d8327deb882cf99",
    "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
    "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
    "sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==",
    "2jmj7l5rSw0yVb/vlWAYkK/YBwk=",
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAC"
    "hwGA60e6kgAAAABJRU5ErkJggg==",
    "AAAAB3NzaC1yc2EAAAADAQABAAABAQC7",
    "00000000-0000-0000-0000-000000000000",
    "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
    "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "/api/v1/items/01HX5ZQK3J8V9W2N4R6T7Y8B0C/versions/3",
    "ThisIsAnOrdinaryCamelCaseIdentifier2024x",
    "AbstractSingletonProxyFactoryBean2Helper",
    "srcComponentsHeaderNavigationBar2Version",
    "src/components/Header/NavigationBar2.tsx",
    "aGVsbG8gd29ybGQsIHRoaXMgaXMgYSBwbGFpbiBzZW50ZW5jZQ==",
    "QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
    "search?q=hello%20world%21&lang=en",
    "user%40example.com",
    "SKU-12345-blue",
    "SKIP_TESTS=1 make build",
    "rule: SK + 32 hex is a Twilio key",
    "git clone git@github.com:acme/app.git",
]

#: Key names that contain secret-ish words but hold ordinary values.
INNOCUOUS_KEYS: Final[dict[str, Any]] = {
    "tokens_in": 812,
    "tokens_out": 97,
    "token_count": 17,
    "max_tokens": 4096,
    "prompt_tokens": 512,
    "completion_tokens": 128,
    "gen_ai.usage.input_tokens": 812,
    "gen_ai.usage.output_tokens": 97,
    "llm.token_count.prompt": 812,
    "llm.token_count.completion": 97,
    "eos_token": "</s>",
    "token_type": "bearer",
    "auth_method": "oauth2",
    "auth_provider": "google",
    "secret_name": "prod-db",
    "private_key_id": "0123456789abcdef",
    "aws_access_key_id_present": True,
    "api_key_set": True,
    "password_required": True,
    "password_length": 12,
    "cache_key": "user:42:profile",
    "sort_key": "created_at",
    "primary_key": "id",
    "idempotency_key": "req-7f3a9c2e",
    "author": "Jane Doe",
    "keyboard": "us-intl",
    "pass_rate": 0.82,
    "passed": 12,
    "environment": "production",
    "deployment.environment": "staging",
    "session_id": "01HX5ZQK3J8V9W2N4R6T7Y8B0C",
    "tokenizer": "cl100k_base",
}


def innocuous_events() -> list[dict[str, Any]]:
    """Raw events made of :data:`INNOCUOUS` strings and :data:`INNOCUOUS_KEYS`.

    Under a ``store`` policy without user pseudonymization, redaction must leave every
    field of these events as it was (``data.content`` gains only its statistics).
    """
    events: list[dict[str, Any]] = []
    for index, text in enumerate(INNOCUOUS):
        events.append(
            _event(
                100 + index,
                "log" if index % 2 else "message",
                stack_name="innocuous",
                message=text,
                data={"note": text, "items": [text, {"text": text}]},
                attributes={"note": text, "index": index},
            )
        )
    events.append(
        _event(
            100 + len(INNOCUOUS),
            "llm_call",
            stack_name="innocuous",
            data={"model": "gpt-4o-mini", "content": INNOCUOUS[24], "meta": dict(INNOCUOUS_KEYS)},
            attributes={k: v for k, v in INNOCUOUS_KEYS.items() if not isinstance(v, bool)},
        )
    )
    return events


def false_positives(redact_value: Callable[..., tuple[Any, list[Any]]]) -> tuple[list[str], int]:
    """The :data:`INNOCUOUS` strings and :data:`INNOCUOUS_KEYS` names that
    ``redact_value`` (a :meth:`Redactor.redact_value`) changes or reports a finding for,
    and how many items were tried: the innocuous corpus's false-positive measure, shared
    by its test and ``bench/redaction.py``."""
    changed: list[str] = []
    for text in INNOCUOUS:
        value, findings = redact_value(text, "x")
        if value != text or findings:
            changed.append(text)
    for key, value in INNOCUOUS_KEYS.items():
        result, findings = redact_value({key: value})
        if result != {key: value} or findings:
            changed.append(key)
    return changed, len(INNOCUOUS) + len(INNOCUOUS_KEYS)
