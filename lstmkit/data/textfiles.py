"""Labelled texts from the files people keep them in.

`read_texts(path)` picks the reader from what `path` is:

- a CSV or TSV file (.csv, .tsv, .tab, or .txt): one text and its label per
  row. The delimiter is sniffed (comma, tab, semicolon, pipe) unless given;
  fields may be quoted ("..." with "" inside) except in tab-separated files,
  which are read with no quoting (review text is full of stray quotes) unless
  `quoting='minimal'` or every field of the first line is quoted (R's
  write.table). Columns are named (a header row) or numbered from 0;
  see `read_table` for how the header and the columns are found.
- a JSON Lines file (.jsonl, .ndjson): one object per line, the text and the
  label under `text_col` and `label_col` (default 'text' and 'label'); a
  list of labels makes a multi-label sample.
- a folder tree `root/<label>/*.txt`, one text per file (the aclImdb
  layout), or the same inside a .tar.gz / .tgz / .tar / .zip archive, read
  in one streamed pass with nothing extracted. A path that goes on inside an
  archive names the root there: `aclImdb_v1.tar.gz/aclImdb/train`.
- one-text-per-line files, one file per label (the Rotten Tomatoes polarity
  set): `{'pos': 'rt-polarity.pos', 'neg': 'rt-polarity.neg'}`, the string
  'pos=rt-polarity.pos,neg=rt-polarity.neg', or a folder holding files
  STEM.LABEL that share one stem (rt-polarity.pos, rt-polarity.neg).

Every reader decodes with `encoding` (UTF-8 by default; the Rotten Tomatoes
files need latin-1); bytes that do not decode are an error naming the file,
line and byte offset. Texts that are empty (or only white space) are skipped
and counted in `TextData.skipped`: a blank line at a file's end is common,
and one bad row should not cost the rest. Labels are strings; a multi-label
sample's labels are a tuple (CSV/TSV: split on `label_sep`).
"""

import csv
import io
import json
import os
import tarfile
import zipfile
import zlib

from ..errors import DataFileError, InputError

ARCHIVES = (".tar.gz", ".tgz", ".tar", ".zip")
TABLES = (".csv", ".tsv", ".tab", ".txt")
JSON_LINES = (".jsonl", ".ndjson")
TEXT_NAMES = ("text", "review", "sentence", "document", "content", "body", "comment", "tweet")
LABEL_NAMES = ("label", "labels", "sentiment", "class", "category", "target", "polarity", "y")
DELIMITERS = ",\t;|"
MAX_FIELD = 1 << 26  # csv's default 128 KiB field limit is too small for long documents


class TextData:
    """Labelled (or unlabelled) texts read from a file.

    Attributes:
        texts: the texts (str), in file order.
        labels: one label per text (str, or a tuple of str for multi-label
            data), or None for a file without labels.
        where: for each text, where it came from ('file, line n', or the
            member of an archive), for messages.
        skipped: how many empty texts were left out.
        path: the file or folder read.
    """

    def __init__(self, texts, labels=None, where=None, skipped=0, path=None):
        self.texts, self.labels = list(texts), None if labels is None else list(labels)
        self.where = list(where) if where is not None else [f"text {i + 1}"
                                                            for i in range(len(self.texts))]
        self.skipped, self.path = skipped, path

    def __len__(self):
        return len(self.texts)

    @property
    def multilabel(self):
        return self.labels is not None and any(isinstance(l, tuple) for l in self.labels)

    def label_names(self):
        """The distinct labels, sorted (numbers as numbers: '2' before '10')."""
        names = {n for l in self.labels for n in (l if isinstance(l, tuple) else (l,))}
        return sorted(names, key=_label_order)

    def subset(self, index):
        index = list(index)
        return TextData([self.texts[i] for i in index],
                        None if self.labels is None else [self.labels[i] for i in index],
                        [self.where[i] for i in index], 0, self.path)


def _label_order(label):
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def read_texts(path, text_col=None, label_col=None, delimiter=None, header=None,
               encoding="utf-8", label_sep=None, quoting=None, labelled=True):
    """Read labelled texts from `path` (see the module's docstring for the
    formats). `labelled=False` reads texts only (labels None), for
    prediction; a table then needs no label column. Returns a TextData.
    Raises DataFileError naming the file (and line) for anything it cannot read."""
    if isinstance(path, dict) or (isinstance(path, str) and "=" in path
                                  and not os.path.exists(path)):
        return read_line_files(path, encoding)
    path = os.fspath(path)
    archive, inner = split_archive_path(path)
    if archive is not None:
        return read_tree(archive, inner, encoding)
    if os.path.isdir(path):
        files = line_files_in(path)
        return read_line_files(files, encoding) if files else read_tree(path, "", encoding)
    if not os.path.exists(path):
        raise DataFileError("no such file or folder", path)
    lower = path.lower()
    if lower.endswith(JSON_LINES):
        return read_json_lines(path, text_col, label_col, encoding, labelled)
    return read_table(path, text_col, label_col, delimiter, header, encoding, label_sep,
                      quoting, labelled)


# ----- decoding -------------------------------------------------------------------

def decode(data, path, encoding):
    """bytes -> str; an undecodable byte names the file, line and byte offset."""
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise DataFileError(f"byte {e.start} (0x{data[e.start]:02x}) is not {encoding} text "
                            f"({e.reason}); pass the file's encoding, e.g. --encoding latin-1",
                            path, line) from None
    except LookupError:
        raise InputError(f"unknown encoding {encoding!r}") from None
    return text.removeprefix("\ufeff")  # a byte-order mark is not text


def lines_of(text):
    """The lines of a text, split at \\n only (str.splitlines would also split
    at characters such as U+0085, which latin-1 text holds as a letter)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def read_bytes(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except IsADirectoryError:
        raise DataFileError("is a folder, not a file", path) from None
    except OSError as e:
        raise DataFileError(e.strerror or str(e), path) from None


# ----- CSV / TSV ----------------------------------------------------------------------

def read_table(path, text_col=None, label_col=None, delimiter=None, header=None,
               encoding="utf-8", label_sep=None, quoting=None, labelled=True):
    """A CSV/TSV file of texts and labels.

    Args:
        text_col, label_col: a column name (from the header row) or a number
            (from 0; a string of digits counts as a number when the file has no
            header). Default: with a header, the first column named like a
            text (text, review, sentence, ...) and like a label (label,
            sentiment, class, ...); without one, of two columns the one whose
            values are longer on average is the text. More columns need them
            named.
        delimiter: one character; default sniffed from the first 64 KiB.
        header: True, False, or None (default): there is a header row if a
            column is named by text_col/label_col, if the first row holds
            one of the usual column names (text, label, ...), or if it starts
            with a word a column of numbers below (labels 0 and 1 under
            'Score').
        label_sep: split labels on this string into a multi-label sample.
        quoting: 'minimal' (fields may be quoted) or 'none'; default
            'none' for tab-separated files (unless every field of the first
            line is quoted, as R writes them), 'minimal' for the others.
    """
    text = decode(read_bytes(path), path, encoding)
    if not text.strip():
        raise DataFileError("the file is empty", path)
    if delimiter is None:
        delimiter = sniff_delimiter(text, path)
    elif len(delimiter) != 1:
        raise InputError(f"delimiter must be one character, got {delimiter!r}")
    if quoting not in (None, "minimal", "none"):
        raise InputError(f"quoting must be 'minimal' or 'none', got {quoting!r}")
    r_style = quoting is None and _default_quoting(text, delimiter) == "r"
    quoting = "minimal" if r_style else quoting or _default_quoting(text, delimiter)
    csv.field_size_limit(MAX_FIELD)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter,
                        quoting=csv.QUOTE_NONE if quoting == "none" else csv.QUOTE_MINIMAL,
                        escapechar="\\" if r_style else None)  # R writes \" inside quotes
    rows, end = [], 0
    try:
        for row in reader:  # a quoted field may span lines: a row is named by its first
            rows.append((end + 1, row))
            end = reader.line_num
    except csv.Error as e:
        raise DataFileError(f"not readable as {_delimiter_name(delimiter)}-separated values: {e}",
                            path, reader.line_num) from None
    rows = [(n, row) for n, row in rows if any(field.strip() for field in row)]
    if header is None:
        header = _has_header(rows, text_col, label_col)
    names = [name.strip() for name in rows[0][1]] if header else None
    body = rows[1:] if header else rows
    if r_style and names and body and len(body[0][1]) == len(names) + 1:
        names = ["", *names]  # R's row names: a column its header does not name
    if not body:
        raise DataFileError("the file holds a header and no rows", path)
    _check_widths(body, names, delimiter, quoting, path)
    width = max(len(row) for _, row in body)
    text_i = _column(text_col, names, width, path, "text", TEXT_NAMES)
    label_i = _column(label_col, names, width, path, "label", LABEL_NAMES) if labelled else None
    if text_i is None or (labelled and label_i is None):
        text_i, label_i = _guess_columns(body, names, width, path, text_i, label_i, labelled)
    if text_i == label_i:
        raise InputError(f"{path}: the text and the label are both column {text_i}")
    texts, labels, where, skipped = [], [], [], 0
    for line, row in body:
        need = max(text_i, label_i if label_i is not None else 0)
        if len(row) <= need:
            raise DataFileError(f"has {len(row)} field(s), the {'label' if label_i == need else 'text'}"
                                f" is column {need}; delimiter {_delimiter_name(delimiter)}",
                                path, line)
        value = row[text_i].strip()
        if not value:
            skipped += 1
            continue
        if label_i is not None:
            label = row[label_i].strip()
            if not label:
                raise DataFileError(f"the label (column {label_i}) is empty", path, line)
            labels.append(_split_labels(label, label_sep))
        texts.append(value)
        where.append(f"{path}, line {line}")
    if not texts:
        raise DataFileError(f"no texts: every row's text (column {text_i}) is empty", path)
    return TextData(texts, labels if labelled else None, where, skipped, path)


def _check_widths(body, names, delimiter, quoting, path):
    """Refuse a row of more fields than the header (or, without one, than
    the first row): most often a text holding the delimiter unquoted, which
    would otherwise shift its label into another column unseen."""
    if names:
        expected, against = len(names), "the header"
    else:
        expected, against = len(body[0][1]), f"line {body[0][0]}"
    for line, row in body:
        if len(row) > expected or (names is None and len(row) != expected):
            hint = (" (a text that holds the delimiter must be quoted: \"...\")"
                    if quoting == "minimal" else "")
            raise DataFileError(f"has {len(row)} {_delimiter_name(delimiter)}-separated fields, "
                                f"{against} {expected}{hint}", path, line)


def _default_quoting(text, delimiter):
    """'none' for tab-separated files, or 'r' where every field of their
    first line is quoted (R's write.table: "text"<TAB>"label", quotes inside
    escaped \", a first column of row names that the header does not name);
    'minimal' for the others."""
    if delimiter != "\t":
        return "minimal"
    first = next((line for line in text.splitlines() if line.strip()), "")
    fields = first.split("\t")
    quoted = all(len(f) >= 2 and f.startswith('"') and f.endswith('"') for f in fields)
    return "r" if quoted else "none"


def sniff_delimiter(text, path):
    sample = text[:1 << 16]
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        pass
    first = sample.splitlines()[0] if sample.splitlines() else ""
    found = [d for d in DELIMITERS if d in first]
    if not found:  # one column: a text per line with no label is not a table
        raise DataFileError(f"found no delimiter ({', '.join(map(_delimiter_name, DELIMITERS))})"
                            " in the first line; pass --delimiter", path, 1)
    return "\t" if "\t" in found else found[0]


def _delimiter_name(d):
    return {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}.get(d, repr(d))


def _has_header(rows, text_col, label_col):
    """Whether the first of the (line, fields) rows names the columns: a
    column is named by text_col/label_col, the row holds one of the usual
    names, or a column whose every other cell is a number (labels 0 and 1)
    starts with a word (its name: 'Score')."""
    named = [c for c in (text_col, label_col) if isinstance(c, str) and not c.isdigit()]
    if named:
        return True
    if isinstance(text_col, int) or isinstance(label_col, int):
        return False
    first = rows[0][1]
    if {f.strip().lower() for f in first} & set(TEXT_NAMES + LABEL_NAMES):
        return True
    rest = [row for _, row in rows[1:]]
    return bool(rest) and any(
        not _is_number(name) and all(i < len(row) and _is_number(row[i]) for row in rest)
        for i, name in enumerate(first))  # csv.Sniffer's has_header guesses wrong on prose


def _is_number(field):
    try:
        float(field)
    except ValueError:
        return False
    return True


def _column(spec, names, width, path, role, usual):
    """The index of column `spec` (a name or a number), or None to guess."""
    if spec is None:
        if names is None:
            return None
        lowered = [n.lower() for n in names]
        return next((lowered.index(n) for n in usual if n in lowered), None)
    if isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit() and (
            names is None or spec not in names)):
        index = int(spec)
        if not 0 <= index < width:
            raise InputError(f"{path}: there is no column {index} (the rows have {width}, "
                             f"numbered from 0)")
        return index
    if names is None:
        raise InputError(f"{path}: the file has no header row, so no column is named "
                         f"{spec!r}; name the {role} column by its number from 0")
    if spec not in names:
        raise InputError(f"{path}: no column named {spec!r}; the columns are "
                         f"{', '.join(map(repr, names))}")
    return names.index(spec)


def _guess_columns(body, names, width, path, text_i, label_i, labelled):
    if width == 1 and not labelled:
        return 0, None
    if width != 2 and (text_i is None or (labelled and label_i is None)):
        shown = (f"the columns are {', '.join(map(repr, names))}" if names
                 else f"{width} columns, numbered from 0")
        raise InputError(f"{path}: say which column holds the text and which the label "
                         f"(--text-col, --label-col); {shown}")
    if text_i is None and label_i is not None:
        return 1 - label_i, label_i
    if label_i is None and text_i is not None:
        return text_i, (1 - text_i if labelled else None)
    mean = [sum(len(row[c]) for _, row in body if len(row) > c) / len(body) for c in (0, 1)]
    text_i = 0 if mean[0] >= mean[1] else 1
    return text_i, (1 - text_i if labelled else None)


def _split_labels(label, label_sep):
    if label_sep is None:
        return label
    return tuple(sorted({part.strip() for part in label.split(label_sep) if part.strip()}))


# ----- JSON Lines -----------------------------------------------------------------------

def read_json_lines(path, text_col=None, label_col=None, encoding="utf-8", labelled=True):
    """One JSON object per line: the text under `text_col` (default 'text'),
    the label under `label_col` (default 'label'): a string or a number, or a
    list of them for a multi-label sample."""
    text_key, label_key = text_col or "text", label_col or "label"
    content = decode(read_bytes(path), path, encoding)
    if not content.strip():
        raise DataFileError("the file is empty", path)
    texts, labels, where, skipped = [], [], [], 0
    for number, line in enumerate(lines_of(content), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataFileError(f"not valid JSON: {e.msg}", path, number, e.colno) from None
        if not isinstance(record, dict):
            raise DataFileError("expected a JSON object {\"text\": ..., \"label\": ...}",
                                path, number)
        if text_key not in record:
            raise DataFileError(f"no key {text_key!r}; the keys are "
                                f"{', '.join(map(repr, record))}", path, number)
        value = record[text_key]
        if not isinstance(value, str):
            raise DataFileError(f"{text_key!r} must be a string, got {type(value).__name__}",
                                path, number)
        if labelled:
            if label_key not in record:
                raise DataFileError(f"no key {label_key!r}; the keys are "
                                    f"{', '.join(map(repr, record))}", path, number)
            label = _json_label(record[label_key], path, number, label_key)
        if not value.strip():
            skipped += 1
            continue
        texts.append(value.strip())
        where.append(f"{path}, line {number}")
        if labelled:
            labels.append(label)
    if not texts:
        raise DataFileError("no texts: every record's text is empty", path)
    return TextData(texts, labels if labelled else None, where, skipped, path)


def _json_label(value, path, line, key):
    def one(v):
        if isinstance(v, bool) or not isinstance(v, (str, int)):
            raise DataFileError(f"{key!r} must be a string or an integer (or a list of them), "
                                f"got {json.dumps(v)[:40]}", path, line)
        return str(v).strip()
    if isinstance(value, list):
        return tuple(sorted({one(v) for v in value}))
    label = one(value)
    if not label:
        raise DataFileError(f"{key!r} is empty", path, line)
    return label


# ----- folder trees and archives ---------------------------------------------------------

def split_archive_path(path):
    """(archive, path inside it) when `path` is an archive or goes on inside
    one (`data.tar.gz/aclImdb/train`); (None, None) otherwise."""
    if os.path.isdir(path):
        return None, None
    head, rest = path, []
    while head and not os.path.exists(head):
        head, tail = os.path.split(head)
        if not tail:
            break
        rest.insert(0, tail)
    if head and os.path.isfile(head) and head.lower().endswith(ARCHIVES):
        return head, "/".join(rest)
    return None, None


def read_tree(root, inner="", encoding="utf-8"):
    """Texts from `root/<label>/*.txt` (a folder, or `inner` inside the
    archive `root`): the label is the sub-folder's name, one text per file,
    files in name order. Sub-folders without .txt files are not labels."""
    groups = {}  # label -> [(name, bytes)]
    for name, data in _tree_files(root, inner):
        parts = name.split("/")
        if len(parts) == 2 and parts[1].lower().endswith(".txt"):
            groups.setdefault(parts[0], []).append((name, data))
    where_root = f"{root}/{inner}" if inner else root
    if not groups:
        raise DataFileError("no label sub-folders: expected <label>/*.txt files under it "
                            "(e.g. pos/1.txt, neg/2.txt)", where_root)
    if len(groups) == 1:
        raise DataFileError(f"only one label sub-folder ({next(iter(groups))}/): a classifier "
                            "needs texts of at least two labels", where_root)
    texts, labels, where, skipped = [], [], [], 0
    for label in sorted(groups, key=_label_order):
        for name, data in sorted(groups[label]):
            text = decode(data, f"{where_root}/{name}", encoding).strip()
            if not text:
                skipped += 1
                continue
            texts.append(text)
            labels.append(label)
            where.append(f"{where_root}/{name}")
    if not texts:
        raise DataFileError("every .txt file is empty", where_root)
    return TextData(texts, labels, where, skipped, where_root)


def _tree_files(root, inner):
    """(name relative to the tree's root, bytes) of each file under it."""
    prefix = inner.strip("/") + "/" if inner.strip("/") else ""
    if os.path.isdir(root):
        for folder, _, files in os.walk(root):
            for filename in files:
                full = os.path.join(folder, filename)
                yield os.path.relpath(full, root).replace(os.sep, "/"), read_bytes(full)
        return
    try:
        if root.lower().endswith(".zip"):
            with zipfile.ZipFile(root) as archive:
                for info in archive.infolist():
                    name = info.filename.removeprefix("./")
                    if not info.is_dir() and name.startswith(prefix):
                        yield name[len(prefix):], archive.read(info)
        else:
            with tarfile.open(root, "r|*") as archive:  # one streamed pass
                for member in archive:
                    name = member.name.removeprefix("./")
                    if member.isfile() and name.startswith(prefix):
                        yield name[len(prefix):], archive.extractfile(member).read()
                # a streamed tar that is cut short just ends: a whole one ends with
                # zero blocks (two, padded to a record), of which iteration read one
                left = 0
                while left < tarfile.BLOCKSIZE:
                    chunk = archive.fileobj.read(1 << 16)
                    if not chunk:
                        break
                    left += len(chunk)
                if left < tarfile.BLOCKSIZE:
                    raise tarfile.ReadError("it ends without the end-of-archive blocks")
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error) as e:
        raise DataFileError(f"the archive is truncated or damaged ({e}); download it again",
                            root) from None
    except OSError as e:
        raise DataFileError(e.strerror or str(e), root) from None


# ----- one text per line, one file per label ------------------------------------------------

def line_files_in(folder):
    """{label: file} for a folder of files STEM.LABEL sharing one stem
    (rt-polarity.pos, rt-polarity.neg), else None. Files ending in .txt
    (a README) are not label files."""
    try:
        names = [n for n in os.listdir(folder) if os.path.isfile(os.path.join(folder, n))]
    except OSError as e:
        raise DataFileError(e.strerror or str(e), folder) from None
    if any(os.path.isdir(os.path.join(folder, n)) for n in os.listdir(folder)):
        return None
    split = [n.rsplit(".", 1) for n in names if "." in n and not n.lower().endswith(".txt")
             and not n.startswith(".")]
    stems = {stem for stem, _ in split}
    if len(stems) == 1 and len(split) >= 2:
        return {label: os.path.join(folder, f"{stem}.{label}") for stem, label in split}
    return None


def read_line_files(files, encoding="utf-8"):
    """One text per line, the label from the file: {label: path}, or
    'label=path,label=path'."""
    if isinstance(files, str):
        pairs = [part.split("=", 1) for part in files.split(",") if part.strip()]
        if not pairs or any(len(p) != 2 or not p[0].strip() or not p[1].strip() for p in pairs):
            raise InputError(f"expected LABEL=FILE[,LABEL=FILE...], got {files!r}")
        files = {label.strip(): path.strip() for label, path in pairs}
    if len(files) < 2:
        raise InputError(f"one file per label needs at least two labels, got {list(files)}")
    texts, labels, where, skipped = [], [], [], 0
    for label in sorted(files, key=_label_order):
        path = os.fspath(files[label])
        content = decode(read_bytes(path), path, encoding)
        if not content.strip():
            raise DataFileError("the file is empty", path)
        for number, line in enumerate(lines_of(content), start=1):
            if not line.strip():
                skipped += 1
                continue
            texts.append(line.strip())
            labels.append(label)
            where.append(f"{path}, line {number}")
    return TextData(texts, labels, where, skipped, ",".join(f"{l}={p}" for l, p in files.items()))
