"""The multipart/form-data reader of POST /runs/multipart."""

from __future__ import annotations

import pytest

from stacklens.ingest.langsmith.multipart import MultipartError, boundary_of, parse_parts


def test_parts_in_order_with_their_names_and_types() -> None:
    body = (
        b"--xyz\r\n"
        b'Content-Disposition: form-data; name="post.r1"\r\n'
        b"Content-Type: application/json\r\n\r\n"
        b'{"a": 1}\r\n'
        b"--xyz\r\n"
        b'Content-Disposition: form-data; name="attachment.r1.img"; filename="i.png"\r\n\r\n'
        b"\x89PNG\r\n\r\n--x\r\n"
        b"--xyz--\r\n"
    )
    parts = parse_parts(body, boundary_of('multipart/form-data; boundary="xyz"'))
    assert [(p.name, p.content_type) for p in parts] == [
        ("post.r1", "application/json"),
        ("attachment.r1.img", "application/octet-stream"),
    ]
    assert parts[0].content == b'{"a": 1}' and parts[1].content == b"\x89PNG\r\n\r\n--x"


@pytest.mark.parametrize(
    "body",
    [
        b"no boundary here",
        b'--b\r\nContent-Disposition: form-data; name="x"\r\n\r\n{}',  # never closed
        b"--b\r\nContent-Type: application/json\r\n\r\n{}\r\n--b--",  # no name
        b'--b\r\nContent-Disposition: form-data; name="x"{}\r\n--b--',  # no blank line
    ],
)
def test_malformed_bodies(body: bytes) -> None:
    with pytest.raises(MultipartError):
        parse_parts(body, "b")


def test_content_type_needs_multipart_and_a_boundary() -> None:
    for value in ("application/json", "multipart/form-data", None):
        with pytest.raises(MultipartError):
            boundary_of(value)
