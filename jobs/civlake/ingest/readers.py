"""Parse delivered files into Arrow batches of strings, exactly as delivered.

Every reader yields ``pa.RecordBatch`` es whose columns are the contract's column names
(all strings, null when blank or absent) plus ``_extra`` (unknown columns as JSON),
``_malformed`` (the raw text of a row that could not be split into fields) and
``_source_row`` (1-based data-row index in the file). Batches keep memory bounded by the
batch size, not the file size (python lists never hold more than one batch; a CSV is
parsed one Arrow block at a time). XLSX is the exception: calamine reads a whole sheet,
which Excel caps at 1,048,576 rows.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
import math
import re
from collections.abc import Callable, Iterator
from datetime import date, datetime, time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from civlake.contracts import FeedContract, normalize_header
from civlake.ingest.manifest import DeliveryRejected

BATCH_ROWS = 50_000
# A UTF-8 JSONL file is decoded this much at a time (``_read_jsonl_bytes``).
JSONL_BLOCK = 4 << 20
# The encoding scan reads a file this much at a time (``_scan``).
SCAN_CHUNK = 16 << 20
# Arrow's CSV read block: one block is parsed at a time (~25k rows of a hukou file).
BLOCK_SIZE = 4 << 20
# The first UTF-8 byte of every character str.isspace() holds (str.strip() removes):
# \t-\r, \x1c-\x1f and space, U+0085 and U+00A0 (C2), U+1680 (E1), U+2000-U+205F
# (E2), U+3000 the full-width space (E3). A cell not starting with one is not blank.
_SPACE_LEAD = np.zeros(256, bool)
_SPACE_LEAD[[*range(0x09, 0x0E), *range(0x1C, 0x21), 0xC2, 0xE1, 0xE2, 0xE3]] = True
# A row of only blank cells as the CSV writer renders it (empty fields, commas), as
# str.strip() sees blanks: RE2's \s lacks \v, \p{Z} the separators \x1c-\x1f and \x85.
BLANK_RE2_ROW = r"^[\s\x{0b}\p{Z}\x{1c}-\x{1f}\x{85},]*$"
TOTAL_ROW = re.compile(r"^\s*(合\s*计|总\s*计|小\s*计)")
csv.field_size_limit(10_000_000)


class _BatchBuilder:
    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.width = len(names)
        self.rows: list[list[str | None]] = []
        self.extra: list[str | None] = []
        self.malformed: list[str | None] = []
        self.source_row: list[int] = []

    def add(self, values: list[str | None], extra: str | None, malformed: str | None, row: int):
        self.rows.append(values)
        self.extra.append(extra)
        self.malformed.append(malformed)
        self.source_row.append(row)

    def __len__(self) -> int:
        return len(self.rows)

    def flush(self) -> pa.RecordBatch:
        cols = list(zip(*self.rows, strict=True)) if self.rows else [()] * self.width
        arrays = [pa.array(c, type=pa.string()) for c in cols]
        arrays += [
            pa.array(self.extra, type=pa.string()),
            pa.array(self.malformed, type=pa.string()),
            pa.array(self.source_row, type=pa.int64()),
        ]
        batch = pa.RecordBatch.from_arrays(
            arrays, names=[*self.names, "_extra", "_malformed", "_source_row"]
        )
        self.rows, self.extra, self.malformed, self.source_row = [], [], [], []
        return batch


def _blank_to_none(value: str) -> str | None:
    return None if value is None or value.strip() == "" else value


# Below this many values blank_to_null goes value by value (see there).
_FEW = 64


def blank_to_null(values: pa.Array) -> pa.Array:
    """A string array with each blank value (empty, or only what str.strip() removes) as
    null: ``_blank_to_none`` on every value, without a Python call per value.

    A regex per column (RE2, ~100 ns a value) cost half of reading a hukou file. Here a
    value is a candidate when it is empty or its first byte starts a space character
    (one table lookup per value, in numpy); only the candidates - few in a register -
    go through str.strip(). The result shares the values' buffers, with a new validity
    bitmap. Fewer than ``_FEW`` values (a daily delivery's column) go through
    ``_blank_to_none`` one by one: cheaper there than numpy's fixed cost per call."""
    n = len(values)
    if n < _FEW or values.type != pa.string():
        return pa.array([_blank_to_none(v) for v in values.to_pylist()], values.type)
    _, offsets, data = values.buffers()
    ends = np.frombuffer(offsets, np.int32, n + 1, values.offset * 4)
    starts, nonempty = ends[:-1], ends[1:] > ends[:-1]
    blank = ~nonempty
    if data is not None and nonempty.any():
        body = np.frombuffer(data, np.uint8)
        candidate = np.zeros(n, bool)
        candidate[nonempty] = _SPACE_LEAD[body[starts[nonempty]]]
        if (at := np.flatnonzero(candidate)).size:
            texts = values.take(pa.array(at)).to_pylist()
            blank[at] = [t is not None and t.strip() == "" for t in texts]
    if values.null_count:
        blank |= ~values.is_valid().to_numpy(zero_copy_only=False)
    if not blank.any():
        return values
    # the bitmap, like the offsets, is read from the array's offset on
    keep = np.packbits(np.concatenate([np.zeros(values.offset, bool), ~blank]), bitorder="little")
    return pa.Array.from_buffers(
        pa.string(), n, [pa.py_buffer(keep), offsets, data], offset=values.offset
    )


def _map_header(contract: FeedContract, header: list[str], where: str) -> list[str | None]:
    """Column position -> contract name (None for unknown); SCHEMA_MISMATCH if required absent."""
    mapping = contract.header_map
    names = [mapping.get(normalize_header(h)) for h in header]
    # A column delivered twice: the first is the field, a later one goes to _extra (a
    # later value silently replacing the first would lose delivered data).
    seen: set[str] = set()
    for pos, name in enumerate(names):
        if name in seen:
            names[pos] = None
        seen.add(name)
    present = {n for n in names if n}
    missing = [c.header for c in contract.columns if c.required and c.name not in present]
    if missing:
        raise DeliveryRejected(
            "SCHEMA_MISMATCH",
            f"{where}: header lacks required column(s) {missing}; found {header}",
        )
    return names


def _positions(contract: FeedContract, names: list[str | None]) -> list[int | None]:
    """Column position -> index of its field in contract order (None: unknown column)."""
    index = {c.name: i for i, c in enumerate(contract.columns)}
    return [None if name is None else index[name] for name in names]


def _emit(builder, width, positions, header, values, row_no):
    """Place one parsed row's values into contract order (unknown columns -> _extra);
    ``width`` is the contract's column count, ``positions`` from ``_positions``."""
    out: list[str | None] = [None] * width
    extra: dict[str, str] = {}
    for pos, value in enumerate(values):
        at = positions[pos]
        if at is None:
            if value not in (None, ""):
                key = str(header[pos])
                extra[key if key not in extra else f"{key}#{pos + 1}"] = value
        else:
            out[at] = _blank_to_none(value)
    builder.add(out, json.dumps(extra, ensure_ascii=False) if extra else None, None, row_no)


class _NeedsExactReader(Exception):
    """The Arrow path cannot read this file (from here on) as the exact reader would."""


def read_csv(
    path: Path, contract: FeedContract, codec: str, label: str
) -> Iterator[pa.RecordBatch]:
    """CSV through Arrow's streaming parser when the file is regular (the common case, ~4x
    faster); the exact row-by-row reader when it is not (malformed rows in a file with
    quoted fields, unknown columns, bad bytes), which then names the row and field of
    every problem. The switch may come mid-file: every row the Arrow path gave is one the
    exact reader gives alike, so the exact reader reads again from the top and goes on
    after the rows already given. Memory: one block of the file (``BLOCK_SIZE``), not the
    file."""
    given = 0
    try:
        for batch in _read_csv_arrow(path, contract, codec, label):
            given += batch.num_rows
            yield batch
        return
    except _NeedsExactReader:
        pass
    for batch in _read_csv_rows(path, contract, codec, label):
        if given >= batch.num_rows:
            given -= batch.num_rows
            continue
        yield batch.slice(given) if given else batch
        given = 0


def _scan(path: Path, codec: str) -> tuple[str, bool] | None:
    """(the file's first 64k characters, whether it holds a quote) if every byte is valid
    in ``codec`` and the file is not blank; None if not (the exact reader then says why).

    Decodes in 16 MiB chunks and keeps none of them: a pass as fast as the sha256 check,
    and the parse below needs its answers before the first row (Arrow stops at a bad
    byte after rows were given; a quote decides how malformed rows are read)."""
    import codecs as _codecs

    if _codecs.lookup(codec).name in ("utf-8", "utf-8-sig"):
        return _scan_utf8(path, bom=_codecs.lookup(codec).name == "utf-8-sig")
    decoder = _codecs.getincrementaldecoder(codec)(errors="strict")
    head, quoted, content = "", False, False
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(SCAN_CHUNK):
                text = decoder.decode(chunk)
                if len(head) < 1 << 16:
                    head += text[: (1 << 16) - len(head)]
                quoted = quoted or '"' in text
                content = content or bool(text.strip())
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return None
    return (head.removeprefix("\ufeff"), quoted) if content else None


# ASCII bytes str.isspace() holds: a chunk of only these (and U+FEFF first) is blank
_ASCII_SPACES = b" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"


def _scan_utf8(path: Path, *, bom: bool) -> tuple[str, bool] | None:
    """``_scan`` for UTF-8 (``bom``: utf-8-sig, a leading U+FEFF is not content) without
    decoding the file: Arrow validates each chunk as UTF-8 (~4x faster than
    ``bytes.decode``, which builds a str of the whole chunk), a character cut at a
    chunk's end is carried into the next; only the head is decoded."""
    head, quoted, content, carry, first = "", False, False, b"", True
    with path.open("rb") as fh:
        while chunk := fh.read(SCAN_CHUNK):
            data = carry + chunk if carry else chunk
            cut = _utf8_whole(data)
            carry = data[cut:]
            if not _valid_utf8(data, cut):
                return None
            if first and cut:  # the first character is whole: a BOM or not
                if bom and data.startswith(b"\xef\xbb\xbf"):
                    data, cut = data[3:], cut - 3
                first = False
            if len(head) < 1 << 16:  # 256 KiB of UTF-8 hold at least 64k characters
                part = data[: min(cut, 1 << 18)]
                head += part[: _utf8_whole(part)].decode("utf-8")[: (1 << 16) - len(head)]
            quoted = quoted or b'"' in data
            content = content or _has_content(data[:cut])
    if carry:  # the file ends inside a character
        return None
    return (head.removeprefix("\ufeff"), quoted) if content else None


def _utf8_whole(data: bytes) -> int:
    """The length of ``data`` without a character its last bytes begin but do not end."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 != 0x80:  # not a continuation byte: the last character's start
            need = 1 if byte < 0x80 else 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return len(data) - back if need > back else len(data)
    return len(data)  # four continuation bytes: invalid, and the validation says so


def _valid_utf8(data: bytes, end: int) -> bool:
    """Whether ``data[:end]`` is valid UTF-8 (Arrow's validator; Python's rules: no
    surrogates, no overlong forms, nothing above U+10FFFF)."""
    buffer = pa.py_buffer(data)
    offsets = pa.py_buffer(np.array([0, end], np.int32))
    try:
        pa.Array.from_buffers(pa.string(), 1, [None, offsets, buffer]).validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _has_content(data: bytes) -> bool:
    """Whether valid UTF-8 ``data`` holds a character that is not a space."""
    rest = data.lstrip(_ASCII_SPACES)
    if not rest:
        return False
    if rest[0] < 0x80:
        return True
    # a non-ASCII first character (a Chinese register's usual first cell, or a space
    # such as U+3000): decide on the decoded text, a short prefix first
    prefix = rest[:64]
    return bool(prefix[: _utf8_whole(prefix)].decode("utf-8").strip()) or bool(
        rest.decode("utf-8").strip()
    )


def _utf8_stream(path: Path, codec: str) -> pa.NativeFile:
    """The file as UTF-8 for Arrow: read as is when it is UTF-8 (Arrow skips a BOM),
    otherwise transcoded a chunk at a time (strictly; ``_scan`` already found no bad
    byte)."""
    import codecs as _codecs

    raw = pa.OSFile(str(path))
    if _codecs.lookup(codec).name in ("utf-8", "utf-8-sig"):
        return raw
    return pa.transcoding_input_stream(raw, codec, "utf-8")


def _read_csv_arrow(
    path: Path, contract: FeedContract, codec: str, label: str
) -> Iterator[pa.RecordBatch]:
    """Arrow's streaming parser, one ``BLOCK_SIZE`` block of the file at a time; raises
    _NeedsExactReader where the exact reader must decide (bad bytes, unknown or repeated
    columns, malformed rows in a file that also has quoted fields), before the rows it
    cannot vouch for. Rows are numbered as the exact reader numbers them."""
    import pyarrow.csv as pacsv

    scanned = _scan(path, codec)
    if scanned is None:
        raise _NeedsExactReader
    head, quoted = scanned
    first = next(csv.reader(io.StringIO(head)), None)
    if not first:
        raise _NeedsExactReader
    header = [str(h) for h in first]
    names = _map_header(contract, header, label)  # SCHEMA_MISMATCH is raised here
    if None in names or len(set(names)) != len(names):
        # unknown or repeated columns: the exact reader keeps them in _extra
        raise _NeedsExactReader
    columns = [f"c{i}" for i in range(len(header))]
    irregular: list[tuple[int | None, str]] = []

    def on_invalid(row) -> str:
        irregular.append((row.number, row.text))
        return "skip"

    source = _utf8_stream(path, codec)
    try:
        try:
            reader = pacsv.open_csv(
                source,
                # serial: only then does Arrow report the line of a malformed row
                read_options=pacsv.ReadOptions(column_names=columns, skip_rows=1,
                                               use_threads=False, block_size=BLOCK_SIZE),
                parse_options=pacsv.ParseOptions(newlines_in_values=quoted,
                                                 invalid_row_handler=on_invalid),
                convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(columns, pa.string()),
                    strings_can_be_null=False, quoted_strings_can_be_null=False,
                    # _scan validated every byte; Arrow's own check would be a second pass
                    check_utf8=False,
                ),
            )  # fmt: skip
        except pa.ArrowInvalid as exc:
            raise _NeedsExactReader from exc
        placed = 0  # data rows (Arrow's numbering: non-blank lines after the header) so far
        given = 0  # rows given (the exact reader's numbering: blank-cell rows not counted)
        malformed: dict[int, str] = {}
        for block in _blocks(reader):
            if irregular:
                # A quoted field may span lines: only the exact reader knows those rows.
                if quoted or any(number is None for number, _ in irregular):
                    raise _NeedsExactReader
                malformed.update(_malformed_rows(irregular))
                irregular.clear()
            here = _take_malformed(malformed, placed, block.num_rows)
            out = _arrow_batch(block, names, contract, here, placed=placed, given=given)
            placed += block.num_rows + len(here)
            given += out.num_rows
            yield from out.to_batches(max_chunksize=BATCH_ROWS)
        if irregular:
            if quoted or any(number is None for number, _ in irregular):
                raise _NeedsExactReader
            malformed.update(_malformed_rows(irregular))
        if malformed:  # malformed rows after the last well-formed one
            empty = pa.RecordBatch.from_arrays(
                [pa.array([], pa.string())] * len(columns), names=columns
            )
            rest = dict(sorted(malformed.items()))
            out = _arrow_batch(empty, names, contract, rest, placed=placed, given=given)
            yield from out.to_batches(max_chunksize=BATCH_ROWS)
    finally:
        source.close()


def _blocks(reader) -> Iterator[pa.RecordBatch]:
    """The reader's batches; _NeedsExactReader where Arrow cannot parse the file (a row
    longer than a block, a quote it reads otherwise than Python's csv module)."""
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except pa.ArrowInvalid as exc:
            raise _NeedsExactReader from exc
        yield batch


def _take_malformed(malformed: dict[int, str], placed: int, good: int) -> dict[int, str]:
    """The malformed rows (data-row index -> raw row) that fall among a block's ``good``
    well-formed rows, the block following the first ``placed`` data rows; taken out of
    ``malformed``. The j-th malformed row is in the block when at most ``good`` well-formed
    rows come before it, i.e. its index is at most placed + good + j."""
    here: dict[int, str] = {}
    for number in sorted(malformed):
        if number > placed + good + len(here) + 1:
            break
        here[number] = malformed.pop(number)
    return here


def _malformed_rows(irregular: list[tuple[int, str]]) -> dict[int, str]:
    """Data-row index -> raw row, for rows Arrow skipped as malformed (no quoted fields).

    Arrow numbers the non-blank lines of the file, header included, so the data-row
    index (blank lines not counted either) is that number minus the header line."""
    out = {}
    for number, text in irregular:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="").writerow(next(csv.reader([text]), []))
        out[number - 1] = buf.getvalue()
    return out


def _arrow_batch(
    block: pa.RecordBatch,
    names: list[str],
    contract: FeedContract,
    malformed: dict[int, str],
    *,
    placed: int,
    given: int,
) -> pa.Table:
    """One parsed block as reader rows: blanks to null, the block's malformed rows in
    their places (data rows ``placed`` + 1 onwards), rows of only empty cells dropped, the
    rest numbered from ``given`` + 1."""
    import pyarrow.compute as pc

    good = block.num_rows
    by_name = {name: block.column(i) for i, name in enumerate(names)}
    cols = {}
    for col in contract.names:
        if col in by_name:
            cols[col] = blank_to_null(by_name[col])
        else:
            cols[col] = pa.nulls(good, pa.string())
    cols["_extra"] = pa.nulls(good, pa.string())
    cols["_malformed"] = pa.nulls(good, pa.string())
    out = pa.table(cols)
    if malformed:
        # positions of the well-formed rows among the block's data rows
        slots = range(placed + 1, placed + good + len(malformed) + 1)
        order = pa.array([i for i in slots if i not in malformed][:good] + list(malformed))
        bad = {c: pa.nulls(len(malformed), pa.string()) for c in [*contract.names, "_extra"]}
        bad["_malformed"] = pa.array(list(malformed.values()), pa.string())
        out = pa.concat_tables([out, pa.table(bad)])
        out = out.take(pc.sort_indices(order))
    out = _drop_blank_rows(out, contract)
    rows = pa.array(range(given + 1, given + out.num_rows + 1), pa.int64())
    return out.append_column("_source_row", rows)


def _drop_blank_rows(table: pa.Table, contract: FeedContract) -> pa.Table:
    """Rows of only empty cells are not data rows (as in the exact reader)."""
    import pyarrow.compute as pc

    if table.column("_malformed").null_count == table.num_rows and any(
        table.column(col).null_count == 0 for col in contract.names
    ):
        return table  # a column without a blank: no row is blank (the usual block)
    blank = pc.is_null(table.column("_malformed"))
    for col in contract.names:
        blank = pc.and_(blank, pc.is_null(table.column(col)))
    malformed = table.column("_malformed")
    blank_malformed = pc.and_(
        pc.is_valid(malformed), pc.match_substring_regex(malformed, BLANK_RE2_ROW)
    )
    blank = pc.or_(blank, pc.fill_null(blank_malformed, False))
    if not pc.any(blank).as_py():
        return table
    return table.filter(pc.invert(blank))


def _read_csv_rows(
    path: Path, contract: FeedContract, codec: str, label: str
) -> Iterator[pa.RecordBatch]:
    builder = _BatchBuilder(contract.names)
    with path.open("rb") as raw:
        text = io.TextIOWrapper(raw, encoding=codec, errors="strict", newline="")
        reader = csv.reader(text)
        row_no = 0
        try:
            header = next(reader, None)
            if header is None:
                raise DeliveryRejected("SCHEMA_MISMATCH", f"{label}: file is empty (no header row)")
            positions = _positions(contract, _map_header(contract, header, label))
            width = len(header)
            for fields in reader:
                # A blank line, or one of only empty cells (",,,," as Excel writes rows it
                # once formatted): not a data row, like blank rows of an XLSX.
                if not fields or all(not f.strip() for f in fields):
                    continue
                row_no += 1
                if len(fields) != width:
                    buf = io.StringIO()
                    csv.writer(buf, lineterminator="").writerow(fields)
                    builder.add([None] * len(contract.columns), None, buf.getvalue(), row_no)
                else:
                    _emit(builder, len(contract.columns), positions, header, fields, row_no)
                if len(builder) >= BATCH_ROWS:
                    yield builder.flush()
        except UnicodeDecodeError as exc:
            raise DeliveryRejected(
                "ENCODING_ERROR",
                f"{label}: bytes invalid in the declared encoding {codec} near data row "
                f"{row_no + 1} (line {reader.line_num + 1}): {exc.reason} "
                f"(byte {exc.object[exc.start : exc.end]!r}). Ask the sender to re-export in {codec}.",
            ) from exc
        except csv.Error as exc:
            raise DeliveryRejected(
                "FILE_MALFORMED", f"{label}: CSV cannot be parsed at line {reader.line_num}: {exc}"
            ) from exc
    if len(builder):
        yield builder.flush()


def _cell_to_str(value) -> str | None:
    """An XLSX cell as the text a person would read in it."""
    if type(value) is str:  # most cells of a register: the same as str(value) below
        return None if value.strip() == "" else value
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        # >= 1e15 exceeds Excel's 15 significant digits: an ID stored as a number is
        # unrecoverable; keep it in the scientific form Excel shows.
        return f"{value:.15g}" if abs(value) >= 1e15 else repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.isoformat()
    text = str(value)
    return None if text.strip() == "" else text


# A cell attribute t="e": the cell holds a spreadsheet error value (a failed formula).
_ERROR_TYPE = re.compile(rb"""\st\s*=\s*["']e["']""")
_ERROR_CELL = re.compile(rb"""(<(?:[A-Za-z_][\w.-]*:)?c\b[^>]*?\st\s*=\s*)(["'])e\2""")
_SHEET_XML = re.compile(r"^xl/worksheets/[^/]+\.xml$", re.IGNORECASE)


def _has_error_cells(archive, name: str) -> bool:
    """Streams one sheet's XML looking for t="e" (no sheet is held in memory for this)."""
    tail = b""
    with archive.open(name) as fh:
        while chunk := fh.read(4 << 20):
            text = tail + chunk
            # the regex only where an attribute's value is "e" ('e'): a substring search
            # passes over a sheet without one at memory speed, the regex does not
            if (b'"e"' in text or b"'e'" in text) and _ERROR_TYPE.search(text):
                return True
            tail = chunk[-16:]
    return False


def _error_cells_as_text(path: Path) -> Path | io.BytesIO:
    """The workbook with its error cells retyped as formula text (t="e" -> t="str").

    python-calamine 0.9 reads an error cell (#DIV/0!, #N/A, #VALUE!, #REF!, #NAME?, #NUM!,
    #NULL!) as "" - a blank - and rejects the whole workbook on error codes it does not
    know (#SPILL!, #CALC!, #GETTING_DATA). Typed as text, calamine reads the cached error
    text itself, so bronze keeps it as delivered. Workbooks without error cells (the
    usual case) are read from ``path`` untouched."""
    import zipfile

    with zipfile.ZipFile(path) as archive:
        sheets = [n for n in archive.namelist() if _SHEET_XML.match(n)]
        dirty = {n for n in sheets if _has_error_cells(archive, n)}
        if not dirty:
            return path
        out = io.BytesIO()
        # stored, not deflated: this copy lives for one read and compressing it is slow
        with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as copy:
            for info in archive.infolist():
                data = archive.read(info)
                if info.filename in dirty:
                    data = _ERROR_CELL.sub(rb"\1\2str\2", data)
                copy.writestr(info.filename, data)
    out.seek(0)
    return out


def read_xlsx(path: Path, contract: FeedContract, label: str) -> Iterator[pa.RecordBatch]:
    """The first sheet, or with ``xlsx_sheets: all`` every sheet whose header carries the
    feed's columns (others, such as a returned worklist's 汇总, are not data). Data rows
    are numbered through the sheets in workbook order, so ``_source_row`` names one row
    of the file."""
    from python_calamine import CalamineWorkbook

    try:
        source = _error_cells_as_text(path)
        book = CalamineWorkbook.from_object(source)
        names = book.sheet_names if contract.xlsx_sheets == "all" else book.sheet_names[:1]
        sheets = []
        for name in names:
            sheet = book.get_sheet_by_name(name)
            sheets.append((sheet.to_python(skip_empty_area=False), sheet.merged_cell_ranges or []))
    except Exception as exc:  # calamine raises its own error types for corrupt files
        raise DeliveryRejected(
            "ENCODING_ERROR", f"{label}: not a readable XLSX workbook ({exc})"
        ) from exc
    row_no, found_header = 0, False
    for rows, merged in sheets:
        header_at = _header_row(rows, contract)
        if header_at is None:
            continue
        found_header = True
        _fill_vertical_merges(rows, merged, below=header_at)
        header = [_cell_to_str(c) or "" for c in rows[header_at]]
        positions = _positions(contract, _map_header(contract, header, label))
        batch = _sheet_batch(rows[header_at + 1 :], header, positions, contract, row_no)
        row_no += batch.num_rows
        for start in range(0, batch.num_rows, BATCH_ROWS):
            yield batch.slice(start, BATCH_ROWS)
    if not found_header:
        raise DeliveryRejected(
            "SCHEMA_MISMATCH",
            f"{label}: no header row with the feed's columns in the first 20 rows",
        )


def _sheet_batch(
    rows: list[list], header: list[str], positions: list[int | None], contract: FeedContract,
    rows_before: int,
) -> pa.RecordBatch:  # fmt: skip
    """A sheet's rows below its header as one reader batch, a column at a time: every
    cell as ``_cell_to_str`` reads it, cells beyond the header dropped, blank and total
    (合计) rows left out, data rows numbered on from ``rows_before``, cells under
    unknown headers in ``_extra`` (``_emit``'s rules)."""
    width = len(header)
    # a row shorter than the header ends in empty cells; the cells beyond it are dropped
    cells = zip(*(r if len(r) == width else [*r[:width], *[None] * (width - len(r))]
                  for r in rows), strict=True) if rows else [[]] * width  # fmt: skip
    columns = [_as_text(list(column), _cell_to_str) for column in cells]
    first = pc.coalesce(*columns)  # each row's first filled cell
    keep = first.is_valid()
    if (at := np.flatnonzero(pc.match_substring(first, "计").fill_null(False))).size:
        total = np.zeros(len(rows), bool)
        total[at] = [bool(TOTAL_ROW.match(t)) for t in first.take(pa.array(at)).to_pylist()]
        keep = pc.and_(keep, pa.array(~total))
    columns = [c.filter(keep) for c in columns]
    n = len(columns[0])
    out = [pa.nulls(n, pa.string())] * len(contract.columns)
    unknown = []
    for pos, at in enumerate(positions):
        if at is None:
            unknown.append(pos)
        else:
            out[at] = columns[pos]
    extra: list[str | None] = [None] * n
    for i in sorted({i for pos in unknown for i in np.flatnonzero(columns[pos].is_valid())}):
        found: dict[str, str] = {}
        for pos in unknown:
            if (value := columns[pos][i].as_py()) is not None:
                key = str(header[pos])
                found[key if key not in found else f"{key}#{pos + 1}"] = value
        extra[i] = json.dumps(found, ensure_ascii=False)
    out += [
        pa.array(extra, pa.string()),
        pa.nulls(n, pa.string()),
        pa.array(np.arange(rows_before + 1, rows_before + n + 1, dtype=np.int64)),
    ]
    return pa.RecordBatch.from_arrays(out, names=[*contract.names, "_extra", "_malformed",
                                                  "_source_row"])  # fmt: skip


def _as_text(values: list, convert: Callable[[object], str | None]) -> pa.Array:
    """``convert`` of every value, as text: in Arrow when the values are all text or
    missing (most columns of a register), else ``convert`` of each value that is neither.
    ``convert`` must give a text value back unchanged, or None when it is blank, as
    ``blank_to_null`` does."""
    try:
        column = pa.array(values, pa.string())
    except (pa.ArrowTypeError, pa.ArrowInvalid):  # numbers, dates, booleans, nested
        column = pa.array(
            [v if v is None or type(v) is str else convert(v) for v in values], pa.string()
        )
    return blank_to_null(column)


def _header_row(rows: list[list], contract: FeedContract) -> int | None:
    known = set(contract.header_map)
    for i, row in enumerate(rows[:20]):
        cells = {normalize_header(_cell_to_str(c) or "") for c in row}
        if len(cells & known) >= max(2, len(known) // 2):
            return i
    return None


def _fill_vertical_merges(rows: list[list], merged: list, *, below: int) -> None:
    """Registers merge 家庭编号 or 户主 down the rows of one household; the value belongs to
    every row of the merge (the file stores it only in the top cell). Horizontal merges
    (titles, 合计 labels, notes) are left alone."""
    for (r0, c0), (r1, c1) in merged:
        if c0 != c1 or r0 <= below or r1 >= len(rows):
            continue
        for r in range(r0 + 1, r1 + 1):
            row = rows[r]
            if c0 < len(row) and _cell_to_str(row[c0]) is None:
                row[c0] = rows[r0][c0]


def _json_value(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return _blank_to_none(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    # json.dumps of a number is its repr (a finite float's, an int's) at a tenth of the cost
    if type(value) is int:
        return int.__repr__(value)
    if type(value) is float and math.isfinite(value):
        return float.__repr__(value)
    return json.dumps(value, ensure_ascii=False)


def read_jsonl(
    path: Path, contract: FeedContract, codec: str, label: str
) -> Iterator[pa.RecordBatch]:
    """One record per line: the contract's keys as columns (a number as its JSON text, a
    nested value as JSON), other keys in ``_extra``, a line that is not an object in
    ``_malformed``. A UTF-8 file is read by ``_read_jsonl_bytes``, any other by
    ``_read_jsonl_text``: the same batches."""
    if codec in ("utf-8", "utf-8-sig"):
        return _read_jsonl_bytes(path, contract, label)
    return _read_jsonl_text(path, contract, codec, label)


_NOT_DECODED = object()
# A block of JSONL lines that does not decode whole is halved down to this many lines,
# then read a line at a time: a malformed line costs a few decodes, not its block's.
_JSONL_LINES_ALONE = 16


def _line_blocks(raw, size: int) -> Iterator[bytes]:
    """The file in blocks of about ``size`` bytes, each ending where a line ends."""
    carry = b""
    while chunk := raw.read(size):
        block = carry + chunk
        cut = block.rfind(b"\n") + 1
        if not cut:
            carry = block
            continue
        yield block[:cut]
        carry = block[cut:]
    if carry:
        yield carry


def _read_jsonl_bytes(path: Path, contract: FeedContract, label: str) -> Iterator[pa.RecordBatch]:
    """``_read_jsonl_text`` for UTF-8 lines, at a fraction of its cost: a block of lines
    decoded in C (msgspec), the batch's columns built a column at a time.

    msgspec and json agree on every document both accept (same numbers, last of a
    repeated key). A block that is not one object per line (a blank line, an
    out-of-range float that json makes Infinity, malformed JSON, bad UTF-8, a value that
    is not an object, a lone CR) is halved until the lines at fault are read one at a
    time: each line msgspec refuses goes through exactly what ``_read_jsonl_text`` does
    with it."""
    import msgspec

    decoder = msgspec.json.Decoder()
    names = contract.names
    records: list[dict | str] = []
    source_rows: list[int] = []
    seen: set[str] = set()
    row_no = 0

    def by_line(block: bytes) -> Iterator[dict | str]:
        nonlocal row_no
        # LF, CRLF and a lone CR: where text mode's universal newlines split
        for line in block.splitlines(keepends=True):
            try:
                record = decoder.decode(line)
            except msgspec.MsgspecError:
                record = _NOT_DECODED
            if record is _NOT_DECODED:
                try:
                    text = line.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise DeliveryRejected(
                        "ENCODING_ERROR",
                        f"{label}: bytes invalid in utf-8 at data row {row_no + 1}: "
                        f"{exc.reason}. JSONL must be UTF-8; ask the sender to re-export.",
                    ) from exc
                if text.strip() == "":
                    continue
                try:
                    record = json.loads(text)
                except json.JSONDecodeError:
                    record = None
            row_no += 1
            yield record if isinstance(record, dict) else line.decode("utf-8").rstrip("\r\n")

    def add(block: bytes) -> None:
        """The block's records; its lines as the elements of one JSON array, which parses
        only when every line holds exactly one value. A blank line, or two values on one
        line (apart, or split by a lone CR where text mode breaks the line), fails there:
        the block is halved until the lines that fail are read one at a time."""
        nonlocal row_no
        body = block[:-1] if block.endswith(b"\n") else block
        try:
            decoded = decoder.decode(b"[" + body.replace(b"\n", b",") + b"]")
        except msgspec.MsgspecError:
            decoded = None
        lines = body.count(b"\n") + 1
        if decoded is not None and len(decoded) == lines and all(type(r) is dict for r in decoded):
            records.extend(decoded)
            source_rows.extend(range(row_no + 1, row_no + 1 + lines))
            row_no += lines
        elif lines > _JSONL_LINES_ALONE:
            # a line end before the block's last byte: both halves hold lines
            end = len(block) - 1
            cut = block.find(b"\n", end // 2, end) + 1 or block.rfind(b"\n", 0, end // 2) + 1
            add(block[:cut])
            add(block[cut:])
        else:
            for record in by_line(block):
                records.append(record)
                source_rows.append(row_no)

    with path.open("rb") as raw:
        for i, block in enumerate(_line_blocks(raw, JSONL_BLOCK)):
            if i == 0 and block.startswith(codecs.BOM_UTF8):
                block = block[len(codecs.BOM_UTF8) :]
            if block:
                add(block)
            while len(records) >= BATCH_ROWS:
                yield _jsonl_batch(records[:BATCH_ROWS], source_rows[:BATCH_ROWS], names, seen)
                records, source_rows = records[BATCH_ROWS:], source_rows[BATCH_ROWS:]
    last = _jsonl_batch(records, source_rows, names, seen) if records else None
    # JSONL has no header: a required key that no record carries is a schema problem.
    if row_no and (seen & set(names)) and (missing := [n for n in contract.required
                                                       if n not in seen]):  # fmt: skip
        raise DeliveryRejected(
            "SCHEMA_MISMATCH", f"{label}: no record has required key(s) {missing}"
        )
    if last is not None:
        yield last


def _jsonl_batch(
    records: list[dict | str], source_rows: list[int], names: list[str], seen: set[str]
) -> pa.RecordBatch:
    """Records (a dict, or a malformed line's text) as a reader batch; ``seen`` gains
    every key they carry."""
    empty: dict = {}
    objects = [r if type(r) is dict else empty for r in records]
    keys: set[str] = set().union(*objects)
    seen.update(keys)
    arrays = []
    for name in names:
        arrays.append(_as_text(list(map(dict.get, objects, itertools.repeat(name))), _json_value))
    known = frozenset(names)
    if known.issuperset(keys):  # no record carries a key the contract lacks (the rule)
        extra = pa.nulls(len(records), pa.string())
    else:
        extra = pa.array([
            None if known.issuperset(o) else
            json.dumps({k: v for k, v in o.items() if k not in known}, ensure_ascii=False)
            for o in objects
        ], pa.string())  # fmt: skip
    malformed = [None if type(r) is dict else r for r in records]
    arrays += [extra, pa.array(malformed, pa.string()), pa.array(source_rows, pa.int64())]
    return pa.RecordBatch.from_arrays(arrays, names=[*names, "_extra", "_malformed", "_source_row"])


def _read_jsonl_text(
    path: Path, contract: FeedContract, codec: str, label: str
) -> Iterator[pa.RecordBatch]:
    """JSONL decoded as text, a line at a time: any codec, any line ending."""
    builder = _BatchBuilder(contract.names)
    index = {c.name: i for i, c in enumerate(contract.columns)}
    width = len(index)
    keys_seen: set[str] = set()
    row_no = 0
    with path.open("rb") as raw:
        text = io.TextIOWrapper(
            raw, encoding="utf-8-sig" if codec == "utf-8" else codec, errors="strict"
        )
        try:
            for line in text:
                if line.strip() == "":
                    continue
                row_no += 1
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError:
                    obj = None
                if not isinstance(obj, dict):
                    builder.add([None] * width, None, line.rstrip("\r\n"), row_no)
                else:
                    out: list[str | None] = [None] * width
                    extra = {}
                    for key, value in obj.items():
                        at = index.get(key)
                        if at is None:
                            extra[key] = value
                        elif type(value) is str:  # most values: _json_value's first case
                            out[at] = value if value.strip() else None
                        else:
                            out[at] = _json_value(value)
                    if len(keys_seen) < width:
                        keys_seen.update(k for k in obj if k in index)
                    builder.add(
                        out, json.dumps(extra, ensure_ascii=False) if extra else None, None, row_no
                    )
                if len(builder) >= BATCH_ROWS:
                    yield builder.flush()
        except UnicodeDecodeError as exc:
            raise DeliveryRejected(
                "ENCODING_ERROR",
                f"{label}: bytes invalid in {codec} at data row {row_no + 1}: {exc.reason}. "
                "JSONL must be UTF-8; ask the sender to re-export.",
            ) from exc
    # JSONL has no header: a required key that no record carries is a schema problem.
    if row_no and keys_seen and (missing := [n for n in contract.required if n not in keys_seen]):
        raise DeliveryRejected(
            "SCHEMA_MISMATCH", f"{label}: no record has required key(s) {missing}"
        )
    if len(builder):
        yield builder.flush()


def read_file(
    path: Path, contract: FeedContract, codec: str, label: str
) -> Iterator[pa.RecordBatch]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return read_csv(path, contract, codec, label)
    if suffix == ".xlsx":
        return read_xlsx(path, contract, label)
    if suffix in (".jsonl", ".json", ".ndjson"):
        return read_jsonl(path, contract, codec, label)
    raise DeliveryRejected("MANIFEST_INVALID", f"{label}: unsupported file type {suffix!r}")
