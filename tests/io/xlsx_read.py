"""Read back an ``.xlsx`` file with the standard library only (zipfile + ElementTree), for the tests.

No spreadsheet library is a test dependency: the sheet XML is read as the file format defines it (ECMA-376),
so a test sees exactly what Excel would load: each cell's type (``s`` shared string, ``inlineStr``, ``b``
boolean, ``str``/``<f>`` formula, else a number), its number format, the font of its style, the frozen pane,
the filter range and the column widths.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree as ET

NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
BUILTIN_FORMATS = {0: "General", 1: "0", 3: "#,##0", 4: "#,##0.00", 9: "0%", 10: "0.00%", 14: "mm-dd-yy"}
_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


@dataclass
class Cell:
    value: object  # str, float, bool, or None (empty)
    kind: str  # "text", "number", "bool", "formula"
    number_format: str
    bold: bool


@dataclass
class Sheet:
    name: str
    rows: list[list[Cell | None]]
    frozen: tuple[int, int] | None  # (rows, columns) above and left of the pane
    filter: str | None
    widths: dict[int, float] = field(default_factory=dict)  # 0-based column -> width
    formulas: int = 0

    @property
    def header(self) -> list[object]:
        return [c.value if c else None for c in self.rows[0]] if self.rows else []

    def values(self) -> list[list[object]]:
        """The data rows (without the header) as Python values: dates and times from their number formats."""
        return [[_python(c) for c in row] for row in self.rows[1:]]

    def column(self, name: str) -> list[Cell | None]:
        index = self.header.index(name)
        return [row[index] if index < len(row) else None for row in self.rows[1:]]


def _text(node: ET.Element | None) -> str:
    """The text of a ``<si>``/``<is>`` node (runs joined), with ``_xHHHH_`` escapes undone."""
    if node is None:
        return ""
    raw = "".join(t.text or "" for t in node.iter(f"{{{NS['m']}}}t"))
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), raw)


def _column_index(ref: str) -> int:
    letters = re.match(r"[A-Z]+", ref).group(0)  # type: ignore[union-attr]
    index = 0
    for ch in letters:
        index = index * 26 + (ord(ch) - 64)
    return index - 1


def read_xlsx(source: Path | bytes) -> Sheet:
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        book = ET.fromstring(z.read("xl/workbook.xml"))
        sheets = book.findall("m:sheets/m:sheet", NS)
        assert len(sheets) == 1, "one sheet"
        styles = ET.fromstring(z.read("xl/styles.xml"))
        custom = {int(n.get("numFmtId")): n.get("formatCode") for n in styles.findall("m:numFmts/m:numFmt", NS)}
        fonts = [f.find("m:b", NS) is not None for f in styles.findall("m:fonts/m:font", NS)]
        xfs = [
            (
                custom.get(int(x.get("numFmtId", 0))) or BUILTIN_FORMATS.get(int(x.get("numFmtId", 0)), "?"),
                fonts[int(x.get("fontId", 0))],
            )
            for x in styles.findall("m:cellXfs/m:xf", NS)
        ]
        shared = []
        if "xl/sharedStrings.xml" in z.namelist():
            shared = [_text(si) for si in ET.fromstring(z.read("xl/sharedStrings.xml")).findall("m:si", NS)]
        sheet = ET.fromstring(z.read("xl/worksheets/sheet1.xml"))
    rows: list[list[Cell | None]] = []
    formulas = 0
    for row in sheet.findall("m:sheetData/m:row", NS):
        index = int(row.get("r")) - 1
        while len(rows) <= index:
            rows.append([])
        cells: list[Cell | None] = rows[index]
        for c in row.findall("m:c", NS):
            col = _column_index(c.get("r"))
            while len(cells) <= col:
                cells.append(None)
            fmt, bold = xfs[int(c.get("s", 0))]
            kind, value = "number", None
            if c.find("m:f", NS) is not None or c.get("t") == "str":
                formulas += 1
                kind, value = "formula", c.findtext("m:f", default="", namespaces=NS)
            elif c.get("t") == "inlineStr":
                kind, value = "text", _text(c.find("m:is", NS))
            elif c.get("t") == "s":
                kind, value = "text", shared[int(c.findtext("m:v", namespaces=NS))]
            elif c.get("t") == "b":
                kind, value = "bool", c.findtext("m:v", namespaces=NS) == "1"
            elif c.find("m:v", NS) is not None:
                value = float(c.findtext("m:v", namespaces=NS))
            cells[col] = Cell(value, kind, fmt, bold)
    width = max((len(r) for r in rows), default=0)
    for r in rows:
        r.extend([None] * (width - len(r)))
    pane = sheet.find("m:sheetViews/m:sheetView/m:pane", NS)
    frozen = None
    if pane is not None and pane.get("state") == "frozen":
        frozen = (int(float(pane.get("ySplit", 0))), int(float(pane.get("xSplit", 0))))
    auto = sheet.find("m:autoFilter", NS)
    widths = {}
    for col in sheet.findall("m:cols/m:col", NS):
        for i in range(int(col.get("min")) - 1, int(col.get("max"))):
            widths[i] = float(col.get("width"))
    return Sheet(
        name=sheets[0].get("name"),
        rows=rows,
        frozen=frozen,
        filter=auto.get("ref") if auto is not None else None,
        widths=widths,
        formulas=formulas,
    )


def _python(cell: Cell | None) -> object:
    """A cell as a Python value: numbers with a date or time format as ``date``/``datetime``/``timedelta``."""
    if cell is None:
        return None
    if cell.kind == "number" and isinstance(cell.value, float):
        fmt = cell.number_format
        if fmt == "yyyy-mm-dd":
            return date(1899, 12, 30) + timedelta(days=cell.value)
        if fmt == "yyyy-mm-dd hh:mm:ss":
            return datetime(1899, 12, 30) + timedelta(microseconds=round(cell.value * 86_400_000_000))
        if fmt in ("hh:mm:ss", "[h]:mm:ss"):
            return timedelta(microseconds=round(cell.value * 86_400_000_000))
    return cell.value
