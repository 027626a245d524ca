"""Delivery and file specifications (what `writers` puts on disk and `truth` records)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date

from civlake.generate.table import Table
from civlake.generate.timeline import delivery_id


@dataclass
class FileSpec:
    name: str
    fmt: str  # csv | xlsx | jsonl
    encoding: str | None  # manifest encoding (None for xlsx)
    table: Table
    title: str | None = None  # xlsx merged title row above the header
    total_row: bool = False  # xlsx 合计 row + blank rows at the end
    drop_header: str | None = None  # fault: a required column left out of the file


@dataclass
class Delivery:
    feed: str
    unit: str
    unit_name: str
    period: str
    mode: str
    produced_on: date
    produced_at: str
    files: list[FileSpec]
    seq: int = 1
    expected: str = "loaded"  # loaded | rejected | duplicate | superseded | pending
    reason: str | None = None
    fault: str | None = None  # hash | rows | manifest | encoding | pending
    copy_of: Delivery | None = field(default=None, repr=False)  # duplicate: same bytes
    # One big CSV (the monthly hukou file, a row per resident) is produced chunk by chunk
    # while it is written, so a million-person city never holds it whole in memory.
    chunks: Callable[[], Iterator[Table]] | None = field(default=None, repr=False)
    chunk_file: tuple[str, str] | None = None  # (file name, encoding) of the chunked file

    @property
    def delivery_id(self) -> str:
        return delivery_id(self.produced_on, self.unit, self.seq)


def money(amount: int | float) -> str:
    return f"{amount:.2f}"
