"""Command names, file path patterns, URL sanitizing."""

from __future__ import annotations

import pytest

from stacklens.privacy import command_names, file_path_pattern, sanitize_url


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (
            "FOO=bar sudo -E /usr/bin/git push https://tok@github.com/x && "
            'curl -H "Authorization: Bearer x" http://a | grep y',
            "git && curl | grep",
        ),
        ("ls -la", "ls"),
        ("(cd /tmp && make -j4) || echo 'fail; rm -rf /' ; ls", "cd && make || echo ; ls"),
        ("find . -name '*.py' | xargs -I {} grep -n TODO {}", "find | grep"),
        ("find . -print0 | xargs -0 -n 1 wc -l", "find | wc"),
        ("env -i PATH=/bin HOME=/x node app.js &", "node"),
        ("sudo -u deploy -- /opt/bin/deploy.sh --prod", "deploy.sh"),
        ("timeout -s KILL 5s ./run.sh arg", "run.sh"),
        ("nohup time -p python -c 'import os' > out.log 2>&1 &", "python"),
        ("nice -n 10 ionice -c 3 rsync -a src/ dst/", "rsync"),
        (
            "cat <<EOF > x.txt\nsecret line\nmore secret\nEOF\npython3 x.py 2>&1 | tee log",
            "cat ; python3 | tee",
        ),
        ("echo $(cat /etc/passwd) | wc -l", "echo | wc"),
        ("a && b || c ; d | e", "a && b || c ; d | e"),
        ("# just a comment", ""),
        ("OPENAI_API_KEY=sk-abc", ""),
        ("sudo -i", "sudo"),
        ("if [ -f x ]; then echo hi; fi", "[ ; echo"),
        ("C:\\\\Tools\\\\git.exe status", "git.exe"),
        ("'my cmd' --flag", "?"),
        ("ghp_abcdefghijklmnopqrstuvwxyz0123456789 --help", "?"),
        ('git commit -m "fix: it\'s done" && git push', "git && git"),
        ("", ""),
    ],
)
def test_command_names(command: str, expected: str) -> None:
    assert command_names(command) == expected
    assert command_names(expected) == expected  # a fixed point


def test_command_names_never_keep_arguments() -> None:
    result = command_names("mysql -u root -pHunter2Secret --host db 'select 1'")
    assert result == "mysql"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/home/alice/project/src/app.ts", "/home/<user>/project/src/*.ts"),
        ("/Users/bob/Documents/notes", "/Users/<user>/Documents/*"),
        ("/root/.bashrc", "/root/*"),
        ("/root/project/main.py", "/root/project/*.py"),
        ("C:\\Users\\carol\\x.py", "C:\\Users\\<user>\\*.py"),
        ("/mnt/c/Users/dave/x.py", "/mnt/c/Users/<user>/*.py"),
        ("app.ts", "*.ts"),
        ("Makefile", "*"),
        ("/home/alice/project/", "/home/<user>/project/"),
        ("/tmp/x.tar.gz", "/tmp/*.gz"),
        ("~/.ssh/id_rsa", "~/.ssh/*"),
        ("/var/log/app.log", "/var/log/*.log"),
    ],
)
def test_file_path_pattern(path: str, expected: str) -> None:
    assert file_path_pattern(path) == expected
    assert file_path_pattern(expected) == expected


@pytest.mark.parametrize(
    ("url", "expected", "rules"),
    [
        (
            "https://user:pw@api.x.com/v1/x?api_key=zzz&y=1#frag",
            "https://api.x.com/v1/x?api_key=&y=",
            ["url_credentials", "api_key"],
        ),
        (
            "https://tok@github.com/acme/app.git",
            "https://github.com/acme/app.git",
            ["url_credentials"],
        ),
        ("http://localhost:8080/healthz", "http://localhost:8080/healthz", []),
        ("https://x.com/search?q=python", "https://x.com/search?q=", []),
        ("https://x.com/p?", "https://x.com/p", []),
        ("https://x.com/p?flag&a=", "https://x.com/p?flag&a=", []),
        ("/v1/items?token=abc123&page=2", "/v1/items?token=&page=", ["token"]),
        ("https://x.com/a?%3Cscript%3E=1", "https://x.com/a", []),
        ("https://[::1]:8443/x", "https://[::1]:8443/x", []),
    ],
)
def test_sanitize_url(url: str, expected: str, rules: list[str]) -> None:
    found: list[str] = []
    assert sanitize_url(url, found) == expected
    assert found == rules
    again: list[str] = []
    assert sanitize_url(expected, again) == expected
    assert again == []


def test_sanitize_url_drops_secret_query_keys_and_scrubs_paths() -> None:
    found: list[str] = []
    key = "ghp_" + "a1" * 18
    assert sanitize_url(f"https://x.com/p?{key}=1&b=2", found) == "https://x.com/p?b="
    assert "github" in found
    webhook = "https://hooks.slack.com/services/T00000000/B00000000/" + "X1" * 12
    assert "X1X1" not in sanitize_url(webhook, [])


def test_base64_lines_of_a_key_are_not_command_names() -> None:
    # Issue 11: an unquoted PEM key in a command made each base64 line a "command".
    from stacklens.testing.secrets import COMMAND_PEM

    body = "\n".join(COMMAND_PEM.splitlines()[1:-1])
    names = command_names(f"echo {body}\nls -la").split()
    assert names[0] == "echo" and names[-1] == "ls"
    assert set(names[1:-1]) <= {"?", ";"} and "?" in names


def test_plausible_executable_names_are_kept() -> None:
    command = "g++ a.cc && python3.11 -m x && x86_64-linux-gnu-gcc-12 a && NetworkManager"
    assert (
        command_names(command) == "g++ && python3.11 && x86_64-linux-gnu-gcc-12 && NetworkManager"
    )


def test_engine_takes_command_names_from_the_scrubbed_command() -> None:
    from stacklens.privacy import Redactor
    from stacklens.testing.secrets import COMMAND_PEM

    event = {"event_id": "e", "stack_name": "s", "event_type": "tool_use"}
    data = {"tool": "Bash", "command": f"echo {COMMAND_PEM} > id.pem && chmod 600 id.pem"}
    result = Redactor(b"k" * 32).redact_event({**event, "data": data})
    # (the key's last newline ends the echo; the redirect and chmod follow)
    assert result.event["data"]["command"] == "echo ; chmod"
    assert ("private_key", "data.command") in [tuple(f) for f in result.findings]
