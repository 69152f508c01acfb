"""`.arff` files of time series (UCR/UEA archives, Weka): univariate, and
the relational layout of UEA's multivariate files."""

import os
import re
from dataclasses import dataclass

import numpy as np

from ..errors import DataFileError
from .seriesdata import Line, TimeSeriesData, data_lines, parse_numbers, split_keyword

# One ARFF field: a quoted string (backslash escapes) or a bare token, then ',' or the end.
_ARFF_FIELD = re.compile(r"""\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|([^,'"]*?))\s*(,|$)""")
_ARFF_NAME = re.compile(r"""\s*(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\S+)\s*""")
_ESCAPE = re.compile(r"\\(.)")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}
_ARFF_NUMERIC = {"numeric", "real", "integer"}


def read_arff(path, encoding="utf-8"):
    """Read an `.arff` file of time series (UCR/UEA archives, Weka).

    Two layouts are read. Univariate: numeric attributes (the timesteps),
    then the class. Multivariate, as UEA writes it: one relational attribute
    whose inner numeric attributes are the timesteps, then the class; each
    row is a quoted string of dimensions separated by `\\n`, then the label.
    The class is the last attribute: nominal (`{a,b}`, classification) or
    numeric (regression). Quoted names and labels, `%` comments and
    case-insensitive keywords are accepted; sparse rows (`{...}`), string
    and date attributes are refused with the reason.

    Returns a `TimeSeriesData`; `class_labels` in the declared order.
    """
    path = os.fspath(path)
    lines = data_lines(path, encoding, comment=b"%")
    layout = _arff_header(lines, path)
    series, labels, numbers, dimensions = [], [], [], None
    for line in lines:
        text = line.text
        if text.lstrip().startswith("{"):
            raise line.error("sparse ARFF rows ({index value, ...}) are not supported",
                             len(text) - len(text.lstrip()))
        if layout.relational:
            sample, label = _arff_relational_row(line, layout)
            if dimensions is None:
                dimensions = (sample.shape[1], line.number)
            elif sample.shape[1] != dimensions[0]:
                raise line.error(f"found {sample.shape[1]} dimensions, the first row (line "
                                 f"{dimensions[1]}) has {dimensions[0]}")
        else:
            sample, label = _arff_flat_row(line, layout)
        series.append(sample)
        labels.append(label)
        numbers.append(line.number)
    if not series:
        raise layout.data_line.error("@data is followed by no rows")
    return TimeSeriesData(
        series,
        labels if layout.classes is not None else np.array(labels, dtype=np.float64),
        class_labels=layout.classes, problem_name=layout.relation,
        univariate=not layout.relational, dimensions=None if layout.relational else 1,
        series_length=layout.width, path=path, lines=numbers)


# ARFF

@dataclass
class _ArffLayout:
    """What an ARFF header says: the relation, how many values a row (or a
    dimension) holds, whether rows are relational, the class labels (None
    for a numeric class) and the @data line."""

    relation: str | None
    width: int
    relational: bool
    classes: list | None
    data_line: Line


def _arff_header(lines, path):
    """Read an ARFF header up to @data and check it is a layout `read_arff` reads."""
    relation, attributes, inner, block, last = None, [], [], None, None
    for line in lines:
        last = line
        text = line.text.strip()
        keyword, rest = split_keyword(text)
        keyword = keyword.lower()
        if keyword == "@relation":
            relation = _unquote(rest) if rest else None
        elif keyword == "@attribute":
            name, kind = _arff_attribute(line, rest)
            if block is not None:
                if kind != "numeric":
                    raise line.error(f"attribute {name!r} of the relational attribute "
                                     f"{block!r} is not numeric")
                inner.append(name)
            else:
                attributes.append((name, kind, line))
                if kind == "relational":
                    block = name
        elif keyword == "@end":
            if block is None:
                raise line.error("@end without a relational attribute to end")
            block = None
        elif keyword == "@data":
            if block is not None:
                raise line.error(f"@data inside the relational attribute {block!r}: "
                                 f"@end {block} is missing")
            return _arff_layout(attributes, inner, relation, line)
        elif text.startswith("@"):
            raise line.error(f"unknown ARFF keyword {keyword!r}: expected @relation, "
                             "@attribute, @end or @data")
        else:
            raise line.error("found data before @data: is the @data line missing?")
    if last is None:
        raise DataFileError("the file is empty (or holds only comments)", path)
    raise DataFileError("the file ends before @data: is it cut short, or not an ARFF file?",
                        path, last.number)


def _arff_attribute(line, rest):
    """(name, kind) of an @attribute line: kind is "numeric", "relational",
    or a list of nominal values."""
    match = _ARFF_NAME.match(rest)
    if match is None or not rest[match.end():].strip():
        raise line.error("@attribute needs a name and a type")
    name, kind = _unquote(match.group().strip()), rest[match.end():].strip()
    if kind.startswith("{"):
        if not kind.endswith("}"):
            raise line.error(f"nominal attribute {name!r}: the values' '{{' is not closed")
        values = [v for v in _arff_values(line, kind[1:-1]) if v]
        if not values:
            raise line.error(f"nominal attribute {name!r} declares no values")
        return name, values
    if kind.lower() in _ARFF_NUMERIC:
        return name, "numeric"
    if kind.lower() == "relational":
        return name, "relational"
    raise line.error(f"attribute {name!r} is of type {kind!r}: read_arff reads numeric "
                     "attributes, or one relational attribute of them, then a nominal or "
                     "numeric class")


def _arff_layout(attributes, inner, relation, data_line):
    """The `_ArffLayout` of the attributes declared, or the error at the
    attribute that makes it one `read_arff` does not read."""
    kinds = [kind for _, kind, _ in attributes]
    if len(attributes) < 2:
        raise data_line.error("the header declares fewer than two attributes: expected the "
                              "series' attributes, then the class")
    name, kind, line = attributes[-1]
    if kind == "relational":
        raise line.error(f"the last attribute {name!r} is relational: expected the class last")
    classes = kind if isinstance(kind, list) else None
    if "relational" in kinds:
        if len(attributes) != 2 or kinds[0] != "relational":
            raise attributes[kinds.index("relational")][2].error(
                "a relational attribute must be the only one before the class")
        if not inner:
            raise attributes[0][2].error("the relational attribute declares no attributes")
        return _ArffLayout(relation, len(inner), True, classes, data_line)
    for name, kind, line in attributes[:-1]:
        if kind != "numeric":
            raise line.error(f"attribute {name!r} is nominal: only the last attribute (the "
                             "class) may be")
    return _ArffLayout(relation, len(attributes) - 1, False, classes, data_line)


def _arff_values(line, text):
    """The values of a comma-separated ARFF list: quotes removed and escapes
    resolved, bare values stripped."""
    return [_unescape(text[start:end]) if quoted else text[start:end]
            for start, end, quoted in _arff_spans(line, text)]


def _arff_spans(line, text):
    """(start, end, quoted) of each comma-separated field of `text`; a quoted
    field's span is inside its quotes, a bare field's is stripped. A quote
    left open raises at its column (exact where `text` is the line's)."""
    spans, position = [], 0
    while True:
        match = _ARFF_FIELD.match(text, position)
        if match is None:
            raise line.error("a quote is not closed, or a field holds one", position)
        group = next(g for g in (1, 2, 3) if match.group(g) is not None)
        spans.append((match.start(group), match.end(group), group != 3))
        if not match.group(4):
            return spans
        position = match.end()


def _unquote(text):
    """An ARFF name without its quotes, backslash escapes resolved."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return _unescape(text[1:-1])
    return text


def _unescape(text):
    """ARFF's backslash escapes resolved: \\n, \\t, \\r, and any other
    character standing for itself."""
    return _ESCAPE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(1)), text)


def _arff_label(line, layout, label, column):
    """A row's class value, checked against the header."""
    if label == "?":
        raise line.error("the class value is missing ('?')", column)
    if layout.classes is None:
        try:
            return float(label)
        except ValueError:
            raise line.error(f"the target {label!r} is not a number", column) from None
    if label not in layout.classes:
        raise line.error(f"class value {label!r} is not one the header declares: "
                         f"{', '.join(layout.classes)}", column)
    return label


def _arff_flat_row(line, layout):
    """A univariate row: its values, then the class."""
    text = line.text
    if "'" in text or '"' in text:
        spans = _arff_spans(line, text)
        count, (start, end, quoted) = len(spans), spans[-1]
        cut = text.rfind(",", 0, start)
    else:
        count, cut, quoted = text.count(",") + 1, text.rfind(","), False
        start = cut + 1 + len(text[cut + 1:]) - len(text[cut + 1:].lstrip())
        end = len(text.rstrip())
    if count != layout.width + 1:
        raise line.error(f"found {count} fields, the header declares {layout.width + 1} "
                         "attributes")
    values = parse_numbers(line, 0, cut)
    label = _unescape(text[start:end]) if quoted else text[start:end]
    label = _arff_label(line, layout, label, start)
    return np.array(values, dtype=np.float32)[:, None], label


def _arff_relational_row(line, layout):
    """A relational row: a quoted string of dimensions separated by a literal
    backslash-n, then the class."""
    spans = _arff_spans(line, line.text)
    if len(spans) != 2 or not spans[0][2]:
        raise line.error("expected a quoted string of dimensions ('v,v,...\\nv,v,...'), then "
                         "the class")
    (start, end, _), (label_start, label_end, quoted) = spans
    label = line.text[label_start:label_end]
    label = _arff_label(line, layout, _unescape(label) if quoted else label, label_start)
    columns, position = [], start
    for part in line.text[start:end].split("\\n"):
        values = parse_numbers(line, position, position + len(part))
        if len(values) != layout.width:
            raise line.error(f"dimension {len(columns) + 1} has {len(values)} values, the "
                             f"relational attribute declares {layout.width}", position)
        columns.append(values)
        position += len(part) + 2
    return np.array(columns, dtype=np.float32).T, label
