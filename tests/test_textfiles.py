"""lstmkit.data.textfiles: every reader on tiny files, and each bad input."""

import io
import json
import tarfile
import zipfile

import pytest

from lstmkit.data.textfiles import read_texts
from lstmkit.errors import DataFileError, InputError, LstmkitError


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def test_csv_with_header_quoting_and_named_columns(tmp_path):
    path = write(tmp_path / "r.csv", 'id,review,sentiment\n1,"Great, really great",pos\n'
                                     '2,"He said ""no"" twice\nand left",neg\n3,  ,pos\n')
    data = read_texts(path, text_col="review", label_col="sentiment")
    assert data.texts == ["Great, really great", 'He said "no" twice\nand left']
    assert data.labels == ["pos", "neg"] and data.skipped == 1
    assert data.where[1] == f"{path}, line 3"
    # the usual names are found without being given
    assert read_texts(path).texts == data.texts


def test_sniffed_delimiters_and_headerless_numbered_columns(tmp_path):
    tsv = write(tmp_path / "s.txt", 'a "quoted" start\t1\nplain text here\t0\n')
    data = read_texts(tsv)  # tab: no quoting, the longer column is the text
    assert data.texts == ['a "quoted" start', "plain text here"] and data.labels == ["1", "0"]
    semi = write(tmp_path / "s.csv", "x;good film;1\ny;bad film;0\nz;so so;1\n")
    data = read_texts(semi, text_col=1, label_col="2")
    assert data.texts == ["good film", "bad film", "so so"] and data.labels == ["1", "0", "1"]
    pipe = write(tmp_path / "p.csv", "0|not good at all\n1|fine\n")
    assert read_texts(pipe, delimiter="|").labels == ["0", "1"]


def test_a_tsv_quoted_field_by_field_as_r_writes_it_is_unquoted(tmp_path):
    r = write(tmp_path / "r.tsv", '"text"\t"label"\n"a ""fine"" film"\t"pos"\n"dull"\t"neg"\n')
    data = read_texts(r)
    assert data.texts == ['a "fine" film', "dull"] and data.labels == ["pos", "neg"]
    # R's defaults: quotes inside escaped \", and row names the header does not name
    rows = write(tmp_path / "rows.tsv", '"text"\t"label"\n"1"\t"he said \\"hi\\""\t"pos"\n'
                                        '"2"\t"dull"\t"neg"\n')
    data = read_texts(rows)
    assert data.texts == ['he said "hi"', "dull"] and data.labels == ["pos", "neg"]
    stray = write(tmp_path / "s.tsv", 'text\tlabel\n"quoted" start\tpos\n')
    assert read_texts(stray).texts == ['"quoted" start']  # one quoted field: kept as typed


def test_a_header_of_unusual_names_over_numeric_labels_is_a_header(tmp_path):
    data = read_texts(write(tmp_path / "odd.csv", "Phrase,Score\ngood film,1\nbad film,0\n"))
    assert data.texts == ["good film", "bad film"] and data.labels == ["1", "0"]
    plain = read_texts(write(tmp_path / "plain.csv", "good film,1\nbad film,0\n"))
    assert plain.texts == ["good film", "bad film"]  # no header: the first row is a sample


def test_multilabel_csv_and_jsonl(tmp_path):
    path = write(tmp_path / "m.csv", "text,labels\nfast cheap,price|speed\nslow,speed\n")
    assert read_texts(path, label_sep="|").labels == [("price", "speed"), ("speed",)]
    jl = write(tmp_path / "m.jsonl", '{"text": "one", "label": "a"}\n\n'
                                     '{"text": "two", "label": ["b", "a"]}\n'
                                     '{"text": "", "label": 3}\n')
    data = read_texts(jl)
    assert data.texts == ["one", "two"] and data.labels == ["a", ("a", "b")]
    assert data.skipped == 1 and data.multilabel
    other = write(tmp_path / "o.jsonl", '{"body": "x", "y": 1}\n')
    assert read_texts(other, text_col="body", label_col="y").labels == ["1"]


def tree_files():
    return {"pos/1.txt": b"loved it<br />truly", "pos/2.txt": b"great", "neg/1.txt": b"awful",
            "neg/2.txt": b"  ", "neg/notes.md": b"not a text"}


def test_folder_tree_and_archives(tmp_path):
    root = tmp_path / "train"
    for name, data in tree_files().items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    folder = read_texts(root)
    assert folder.labels == ["neg", "pos", "pos"] and folder.skipped == 1
    assert folder.texts == ["awful", "loved it<br />truly", "great"]

    tar_path = tmp_path / "data.tar.gz"
    with tarfile.open(tar_path, "w:gz") as archive:
        for name, data in tree_files().items():
            info = tarfile.TarInfo(f"corpus/train/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    inside = read_texts(f"{tar_path}/corpus/train")
    assert (inside.texts, inside.labels) == (folder.texts, folder.labels)
    assert inside.where[0] == f"{tar_path}/corpus/train/neg/1.txt"

    zip_path = tmp_path / "data.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        for name, data in tree_files().items():
            archive.writestr(name, data)
    assert read_texts(zip_path).texts == folder.texts


def test_line_files_one_per_label_in_latin1(tmp_path):
    folder = tmp_path / "rt"
    folder.mkdir()
    write(folder / "rt-polarity.pos", "un film \x85 charmant\nbien\n", "latin-1")
    write(folder / "rt-polarity.neg", "mauvais\n", "latin-1")
    write(folder / "README.txt", "about the files")
    data = read_texts(folder, encoding="latin-1")
    assert data.texts == ["mauvais", "un film \x85 charmant", "bien"]  # U+0085 is no line break
    assert data.labels == ["neg", "pos", "pos"]
    pairs = read_texts(f"good={folder / 'rt-polarity.pos'},bad={folder / 'rt-polarity.neg'}",
                       encoding="latin-1")
    assert pairs.labels == ["bad", "good", "good"]
    with pytest.raises(DataFileError, match=r"line 1: byte 8 \(0x85\) is not utf-8.*--encoding"):
        read_texts(folder)


@pytest.mark.parametrize("content, options, match", [
    ("", {}, "the file is empty"),
    ("text,label\n", {}, "a header and no rows"),
    ("text,label\ngood,1\n", {"text_col": "review"},
     r"no column named 'review'; the columns are 'text', 'label'"),
    ("a,b,c\nx,y,z\n", {}, "say which column holds the text"),
    ("good,1\nbad,0\n", {"text_col": 5}, "there is no column 5"),
    ("text,label\ngood,1\nbad\n", {}, "line 3: has 1 field"),
    ("text,label\ngood,\n", {}, "line 2: the label"),
    # a text holding the delimiter unquoted would shift its label: refused, not misread
    ("review,sentiment\nfine,pos\nGreat phone, love it,pos\n", {},
     r"line 3: has 3 comma-separated fields, the header 2 \(a text that holds the delimiter "
     r"must be quoted"),
    ("fine movie,pos\nBad, bad, bad,neg\n", {}, "line 2: has 4 comma-separated fields, line 1 2"),
])
def test_table_errors(tmp_path, content, options, match):
    path = write(tmp_path / "bad.csv", content)
    with pytest.raises(LstmkitError, match=match):
        read_texts(path, **options)


def test_json_lines_errors(tmp_path):
    bad = write(tmp_path / "b.jsonl", '{"text": "a", "label": 1}\n{"text": "b", oops}\n')
    with pytest.raises(DataFileError, match="line 2, column 15: not valid JSON"):
        read_texts(bad)
    missing = write(tmp_path / "m.jsonl", '{"review": "a", "label": 1}\n')
    with pytest.raises(DataFileError, match="no key 'text'; the keys are 'review', 'label'"):
        read_texts(missing)


def test_tree_errors(tmp_path):
    (tmp_path / "flat").mkdir()
    write(tmp_path / "flat" / "a.txt", "loose text")
    with pytest.raises(DataFileError, match="no label sub-folders"):
        read_texts(tmp_path / "flat")
    (tmp_path / "one" / "pos").mkdir(parents=True)
    write(tmp_path / "one" / "pos" / "a.txt", "x")
    with pytest.raises(DataFileError, match="only one label sub-folder"):
        read_texts(tmp_path / "one")
    tar_path = tmp_path / "t.tar.gz"
    with tarfile.open(tar_path, "w:gz") as archive:
        for i in range(200):
            data = (f"review {i} " * 200).encode()
            info = tarfile.TarInfo(f"{'pos' if i % 2 else 'neg'}/{i}.txt")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(tar_path.read_bytes()[:len(tar_path.read_bytes()) // 2])
    with pytest.raises(DataFileError, match="truncated or damaged"):
        read_texts(cut)
    with pytest.raises(DataFileError, match="no such file"):
        read_texts(tmp_path / "missing.csv")
    with pytest.raises(InputError, match="LABEL=FILE"):
        read_texts("pos=")


def test_labels_json_round_trip_of_label_names(tmp_path):
    path = write(tmp_path / "n.csv", "text,label\na,10\nb,2\nc,2\n")
    assert read_texts(path).label_names() == ["2", "10"]  # numbers in number order
    json.dumps(read_texts(path).labels)
