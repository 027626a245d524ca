"""Property: the encoding scan of a UTF-8 CSV (readers._scan_utf8: Arrow's validator a
chunk at a time) answers as Python's strict decoder of the whole file does - valid or
not, blank or not, the head, whether a quote occurs - whatever the chunk size, so the
CSV fast path accepts and declines the same files as before."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from civlake.ingest import readers

# bytes near the edges of UTF-8: surrogates, overlong forms, above U+10FFFF, cut characters
PIECES = [
    "a", '"', ",", "\n", " ", "\u3000", "\x0b", "\ufeff", "张", "𠮷", "\x85", "\u2028",
    b"\xed\xa0\x80", b"\xc0\x80", b"\xf4\x90\x80\x80", b"\xe5\xbc", b"\x80", b"\xff",
    b"\xef\xbb\xbf", b"\xf0\x9f",
]  # fmt: skip
content = st.lists(st.sampled_from(PIECES), max_size=30).map(
    lambda parts: b"".join(p if isinstance(p, bytes) else p.encode() for p in parts)
)


def _reference(data: bytes, codec: str):
    """The scan's answer from Python's decoder over the whole file."""
    try:
        text = data.decode(codec)
    except UnicodeDecodeError:
        return None
    if not text.strip():
        return None
    return text[: 1 << 16].removeprefix("\ufeff"), '"' in text


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.one_of(content, st.binary(max_size=40)),
    codec=st.sampled_from(["utf-8", "utf-8-sig"]),
    chunk=st.sampled_from([1, 2, 3, 5, 16 << 20]),
)
def test_utf8_scan_equals_the_decoder(tmp_path: Path, monkeypatch, data, codec, chunk):
    monkeypatch.setattr(readers, "SCAN_CHUNK", chunk)
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    assert readers._scan(path, codec) == _reference(data, codec)


def test_long_head_is_cut_at_64k_characters(tmp_path: Path, monkeypatch):
    # GIVEN a file of 3-byte characters longer than the head, split across chunks
    text = "\ufeff" + "张伟," * 40_000
    path = tmp_path / "f.csv"
    path.write_bytes(text.encode())
    for chunk in (7, 1 << 16, 16 << 20):
        monkeypatch.setattr(readers, "SCAN_CHUNK", chunk)
        # THEN both codecs give the decoder's first 64k characters, less a BOM
        assert readers._scan(path, "utf-8-sig") == (text[1 : (1 << 16) + 1], False)
        assert readers._scan(path, "utf-8") == (text[: 1 << 16][1:], False)
