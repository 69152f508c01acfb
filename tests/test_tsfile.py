"""Time-series files: .ts (every header tag, unequal lengths, missing values,
time stamps, the quirks of real archive files), UCR's CSV/TSV layout and
.arff; each malformed file fails with its file, line and column."""

from pathlib import Path

import numpy as np
import pytest

from lstmkit.data.tsfile import (TimeSeriesData, read_arff, read_series_file, read_ts,
                                 read_ucr)
from lstmkit.errors import DataFileError, InputError

FIXTURES = Path(__file__).parent / "fixtures" / "ts"
BAD = FIXTURES / "bad"
ITALY = Path(__file__).parent.parent.parent / "shared" / "datasets" / "sequence_classification" \
    / "ItalyPowerDemand"
NAN = np.nan


def same(data, expected):
    """Whether every sample equals its expected (timesteps, features) list, NaN where NaN."""
    return len(data.series) == len(expected) and all(
        s.dtype == np.float32 and np.array_equal(s, np.array(e, dtype=np.float32), equal_nan=True)
        for s, e in zip(data.series, expected))


@pytest.mark.skipif(not ITALY.is_dir(),
                    reason=f"the shared ItalyPowerDemand data are not at {ITALY}")
def test_italy_power_demand_from_the_archive():
    train = read_ts(ITALY / "ItalyPowerDemand_TRAIN.ts")
    test = read_series_file(ITALY / "ItalyPowerDemand_TEST.ts")
    assert (len(train), len(test)) == (67, 1029)
    for data in (train, test):
        assert data.problem_name == "ItalyPowerDemand"
        assert data.class_labels == ["1", "2"] and set(data.labels) == {"1", "2"}
        assert set(data.lengths) == {24} and data.n_features == 1
        assert data.series_length == 24 and data.equal_length and data.univariate
        assert all(s.shape == (24, 1) and s.dtype == np.float32 for s in data.series)
        assert not any(np.isnan(s).any() for s in data.series)
    assert train.series[0][0, 0] == np.float32(-0.71051757) and train.labels[:3] == ["1", "1", "2"]


def test_univariate_comments_and_declared_class_order():
    data = read_ts(FIXTURES / "basic.ts")
    assert isinstance(data, TimeSeriesData) and len(data) == 3
    assert same(data, [[[1], [2], [3], [4]], [[4], [3], [2], [1]], [[0.5], [1.5], [2.5], [3.5]]])
    assert data.labels == ["up", "down", "up"]
    assert data.class_labels == ["up", "down"]  # as declared, not sorted
    assert (data.problem_name, data.univariate, data.equal_length, data.series_length,
            data.missing, data.dimensions, data.timestamps) == ("Basic", True, True, 4, False,
                                                                None, None)


def test_multivariate_dimensions_become_features():
    data = read_ts(FIXTURES / "multivariate.ts")
    assert same(data, [[[1, 10], [2, 20], [3, 30]], [[4, 40], [5, 50], [6, 60]]])
    assert data.labels == ["walk", "run"] and data.dimensions == 2 and data.n_features == 2


def test_unequal_lengths_between_samples_and_dimensions_pad_with_nan_at_the_end():
    data = read_ts(FIXTURES / "unequal.ts")
    assert same(data, [[[1, 4], [2, 5], [3, NAN]],
                       [[6, 7], [NAN, 8], [NAN, 9], [NAN, 10]],
                       [[5, NAN], [6, NAN], [7, NAN], [8, NAN]]])  # '::' is an empty dimension
    assert data.lengths.tolist() == [3, 4, 4] and data.equal_length is False


def test_question_marks_are_nan_and_spaces_around_values_are_ignored():
    data = read_ts(FIXTURES / "missing.ts")
    assert same(data, [[[1], [NAN], [3], [4]], [[NAN], [2], [NAN], [4]]])
    assert data.missing is True and data.labels == ["0", "1"]


def test_time_stamps_put_values_in_order_and_are_kept():
    data = read_ts(FIXTURES / "timestamps.ts")
    assert same(data, [[[10], [NAN], [30]], [[1.5], [3]]])
    assert [t.tolist() for t in data.timestamps] == [[[1.0], [2.0], [3.0]], [[0.5], [2.0]]]
    assert all(t.dtype == np.float64 for t in data.timestamps)


def test_date_stamps_with_colons_in_a_multivariate_regression_file():
    data = read_ts(FIXTURES / "dates.ts")
    assert same(data, [[[1.5, 7], [2.5, NAN]], [[4, 8], [NAN, 9]]])
    assert data.labels.dtype == np.float64 and data.labels.tolist() == [3.25, -100.0]
    first, second = data.timestamps
    assert first.dtype == np.dtype("datetime64[ns]") and first.shape == (2, 2)
    assert first[:, 0].tolist() == np.array(["2013-03-01T00:00", "2013-03-01T01:00"],
                                            dtype="datetime64[ns]").tolist()
    assert np.isnat(first[1, 1]) and np.isnat(second[1, 0])
    assert second[1, 1] == np.datetime64("2013-03-02T06:00:00")


def test_regression_targets_are_a_float_array():
    data = read_ts(FIXTURES / "regression.ts")
    assert isinstance(data.labels, np.ndarray) and data.labels.tolist() == [0.5, -2.0]
    assert data.class_labels is None and same(data, [[[1], [2], [3]], [[4], [5], [6]]])


def test_unlabelled_samples():
    data = read_ts(FIXTURES / "unlabelled.ts")
    assert data.labels is None and data.class_labels is None
    assert same(data, [[[1], [2], [3]], [[4], [5]]])


def test_bom_crlf_cr_mixed_case_tags_tabs_and_no_final_line_end():
    raw = (FIXTURES / "quirks.ts").read_bytes()
    # The fixture must keep its bytes: a checkout that rewrote line ends would test nothing.
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw and b"6:2\r7" in raw
    assert not raw.endswith((b"\n", b"\r")) and b"@PROBLEMNAME" in raw and b"\t" in raw
    data = read_ts(FIXTURES / "quirks.ts")
    assert same(data, [[[1], [2], [3]], [[4], [5], [6]], [[7], [8], [9]]])
    assert data.labels == ["1", "2", "1"] and data.class_labels == ["1", "2"]
    assert (data.problem_name, data.equal_length, data.series_length) == ("Quirks", True, 3)


def test_written_samples_read_back_exactly(tmp_path):
    """A .ts written from random multivariate, unequal-length samples with
    missing values reads back value for value."""
    rng = np.random.default_rng(0)
    samples = [rng.standard_normal((rng.integers(1, 9), 3)).astype(np.float32) for _ in range(20)]
    for s in samples[::3]:
        s[rng.integers(len(s)), rng.integers(3)] = np.nan
    labels = rng.choice(["x", "y", "z"], size=len(samples)).tolist()
    lines = [":".join(",".join("?" if np.isnan(v) else repr(float(v)) for v in s[:, d])
                      for d in range(3)) + f":{label}" for s, label in zip(samples, labels)]
    path = tmp_path / "round.ts"
    path.write_text("@problemName Round\n@dimensions 3\n@equalLength false\n"
                    "@classLabel true z y x\n@data\n" + "\n".join(lines) + "\n")
    data = read_ts(path)
    assert data.labels == labels and data.class_labels == ["z", "y", "x"]
    assert same(data, [s.tolist() for s in samples])


BAD_TS = [
    # file, line, column, what the message says
    ("equal_length.ts", 10, 1,
     "@equalLength is true and dimension 1 of the first sample (line 9) has 3"),
    ("series_length.ts", 10, 1, "dimension 1 has 3 values, but @seriesLength is 4 (line 7)"),
    ("dimensions.ts", 11, 9, "found 3 dimensions, expected 2 as @dimensions (line 6) says"),
    ("first_width.ts", 10, None, "found 1 dimension, expected 2 as the first sample (line 9) says"),
    ("univariate.ts", 8, 7, "expected 1 as @univariate true (line 5) says"),
    ("undeclared_label.ts", 10, 7, "class label 'c' is not one of @classLabel's: a b"),
    ("label_present.ts", 8, 7, "ends in a label, but the header says @classLabel false"),
    ("no_data_tag.ts", 7, None, "found data before @data"),
    ("no_data.ts", 6, None, "the file ends before @data"),
    ("empty_data.ts", 7, None, "@data is followed by no samples"),
    ("not_a_number.ts", 8, 5, "'2.x' is not a number"),
    ("empty_value.ts", 8, 3, "a value is empty"),
    ("truncated.ts", 9, None, "no line end: is the file cut short?"),
    ("unstamped_pair.ts", 8, 1, "the header does not say @timeStamps true"),
    ("mixed_stamps.ts", 8, 8, "is a date, but the file's first time stamp is a number"),
    ("unknown_tag.ts", 7, None, "what ends a line is unknown (@clasLabel: not a .ts tag)"),
    ("no_label_tag.ts", 6, None, "neither @classLabel"),
    ("bad_count.ts", 6, None, "@seriesLength needs a positive whole number, found '2.5'"),
    ("target.ts", 8, 7, "the regression target 'big' is not a number"),
    ("undeclared_class.arff", 7, 5, "class value 'three' is not one the header declares"),
    ("width.arff", 10, 9, "dimension 2 has 2 values, the relational attribute declares 3"),
    ("string.arff", 3, None, "attribute 'name' is of type 'string'"),
    ("Bad_TRAIN.csv", 2, 7, "'oops' is not a number"),
]


@pytest.mark.parametrize("name, line, column, message", BAD_TS, ids=[b[0] for b in BAD_TS])
def test_malformed_files_fail_with_file_line_and_column(name, line, column, message):
    path = BAD / name
    with pytest.raises(DataFileError) as caught:
        read_series_file(path)
    error = caught.value
    assert isinstance(error, ValueError)
    assert (error.path, error.line, error.column) == (str(path), line, column)
    where = f"{path}, line {line}" + (f", column {column}" if column else "") + ": "
    assert str(error).startswith(where) and message in str(error)


@pytest.mark.parametrize("header, message", [
    ("@classLabel true a b\n@targetLabel true\n", "not both"),
    ("@univariate true\n@dimensions 2\n@classLabel true a\n", "@univariate true but @dimensions 2"),
    ("@classLabel true\n", "@classLabel true needs the class labels"),
    ("@classLabel false a\n", "@classLabel false takes no labels"),
    ("@classLabel true a b a\n", "lists 'a' more than once"),
    ("@classLabel true a\n@timeStamps yes\n", "@timeStamps needs true or false, found 'yes'"),
    ("@classLabel true a\n@classLabel true b\n", "@classLabel is repeated (first on line 1)"),
    ("@classLabel true a\n@problemName\n", "@problemName needs a name"),
    ("@classLabel true a\n@data now\n", "@data takes no value"),
])
def test_header_contradictions(tmp_path, header, message):
    path = tmp_path / "bad.ts"
    path.write_text(header + "@data\n1,2:a\n")
    with pytest.raises(DataFileError) as caught:
        read_ts(path)
    assert caught.value.line is not None and message in str(caught.value)


@pytest.mark.parametrize("sample, column, message", [
    ("(1,2)(2,3):a", 6, "expected ',' between (timestamp,value) pairs"),
    ("(1,2),(2 3):a", 8, "a (timestamp,value) pair needs a ','"),
    ("(1,2),:a", 7, "expected a (timestamp,value) pair"),
    ("(1,2),(x,3):a", 8, "time stamp 'x' is neither a number nor a date"),
    ("(1,2),(2013-02-30,3):a", 8, "time stamp '2013-02-30' is neither a number nor a date"),
    ("(1,2),(2,y):a", 10, "'y' is not a number"),
])
def test_time_stamp_errors(tmp_path, sample, column, message):
    path = tmp_path / "stamped.ts"
    path.write_text(f"@timeStamps true\n@classLabel true a\n@data\n{sample}\n")
    with pytest.raises(DataFileError) as caught:
        read_ts(path)
    assert (caught.value.line, caught.value.column) == (4, column)
    assert message in str(caught.value)


def test_other_tools_tags_are_kept_and_dimension_is_dimensions(tmp_path):
    path = tmp_path / "survival.ts"
    path.write_text("@problemName S\n@dimension 2\n@classLabel false\n@survivalAnalysis true\n"
                    "@timeBins 10 20\n@data\n1,2:3,4\n")
    data = read_ts(path)
    assert data.other_tags == {"survivalAnalysis": "true", "timeBins": "10 20"}
    assert data.dimensions == 2 and same(data, [[[1, 3], [2, 4]]])


def test_unreadable_files(tmp_path):
    with pytest.raises(DataFileError, match="No such file"):
        read_ts(tmp_path / "absent.ts")
    empty = tmp_path / "empty.ts"
    empty.write_text("# only a comment\n\n")
    with pytest.raises(DataFileError, match="the file is empty"):
        read_ts(empty)
    with pytest.raises(InputError, match="encoding must be"):
        read_ts(FIXTURES / "basic.ts", encoding="no-such-codec")


def test_percent_comments_as_aeons_bundled_files_write_them(tmp_path):
    # aeon's UnitTest_TRAIN.ts opens with "%# This is a cut down version ..." lines
    path = tmp_path / "p.ts"
    path.write_text("%# a cut down version of ChinaTown\n%\n@problemName P\n@classLabel true 1 2\n"
                    "@data\n% a comment among the data\n1,2,3:1\n4,5,6:2\n")
    data = read_ts(path)
    assert same(data, [[[1], [2], [3]], [[4], [5], [6]]]) and data.labels == ["1", "2"]


def test_encoding_errors_name_the_line_and_comments_need_not_decode(tmp_path):
    path = tmp_path / "latin.ts"
    path.write_bytes(b"# caf\xe9: a Latin-1 comment is skipped undecoded\n"
                     b"@classLabel true a \xc3\xa9\n@data\n1,2:a\n\xc3\xa9,\xb54:a\n")
    with pytest.raises(DataFileError, match=r"line 5, column 3: not utf-8 text \(invalid start "
                                            r"byte at byte 4\)"):
        read_ts(path)
    path.write_bytes(b"# caf\xe9\n@classLabel true \xe9\n@data\n1,2:\xe9\n")
    assert read_ts(path, encoding="latin-1").labels == ["\xe9"]


def test_ucr_tab_comma_and_whitespace_layouts():
    tsv = read_ucr(FIXTURES / "Toy_TRAIN.tsv")
    assert same(tsv, [[[0.5], [1.5], [2.5]], [[3], [4], [NAN]], [[7], [8], [9]]])
    assert tsv.labels == ["1", "-1", "1"] and tsv.class_labels == ["-1", "1"]  # numeric order
    assert tsv.univariate and tsv.dimensions == 1
    csv = read_series_file(FIXTURES / "Toy_TEST.csv")
    assert same(csv, [[[1], [2], [3]], [[4], [5], [NAN]], [[7], [8]]])
    assert csv.labels == ["cat", "dog", "cat"] and csv.class_labels == ["cat", "dog"]
    txt = read_series_file(FIXTURES / "Toy_TRAIN.txt")
    assert same(txt, [[[-0.78], [1.2]], [[0.3], [-0.4]]])
    assert txt.labels == ["1", "2"]  # written 1.0000000e+00, 2.0000000e+00


def test_ucr_lines_without_values_and_trailing_tabs(tmp_path):
    path = tmp_path / "short.csv"
    path.write_text("1,2,3\n2\n")
    with pytest.raises(DataFileError, match="line 2, column 1: a line is a label, then its values"):
        read_ucr(path)
    path = tmp_path / "tabs.tsv"
    path.write_text("1\t2\t3\t\n2\t4\t5\n")
    assert same(read_ucr(path), [[[2], [3]], [[4], [5]]])


def test_a_ucr_file_without_its_label_column_is_refused(tmp_path):
    path = tmp_path / "unlabelled.tsv"
    path.write_text("0.51\t1.2\t0.3\n-1.24\t0.8\t0.1\n0.07\t-0.2\t1.9\n")
    with pytest.raises(DataFileError, match=r"line 1, column 1: starts with '0.51', which reads "
                                            r"as a value, not a class label"):
        read_ucr(path)
    path.write_text("1.0000000e+00\t1.2\t0.3\n2.0000000e+00\t0.8\t0.1\n")  # the 2015 archive's
    assert read_ucr(path).labels == ["1", "2"]


def test_arff_univariate_and_relational():
    flat = read_arff(FIXTURES / "univariate.arff")
    assert same(flat, [[[1], [2], [3]], [[4], [NAN], [6]]])
    assert flat.labels == ["one", "two"] and flat.class_labels == ["one", "two"]
    assert (flat.problem_name, flat.univariate, flat.series_length) == ("Toy Problem", True, 3)
    multi = read_series_file(FIXTURES / "multivariate.arff")
    assert same(multi, [[[1, 4], [2, 5], [3, 6]], [[7, 10], [NAN, 11], [9, 12]]])
    assert multi.labels == ["Running", "Standing"]
    assert multi.class_labels == ["Standing", "Running", "Walking"]
    assert (multi.problem_name, multi.univariate, multi.n_features) == ("BasicToy", False, 2)


def test_arff_numeric_class_is_regression(tmp_path):
    path = tmp_path / "reg.arff"
    path.write_text("@relation r\n@attribute a numeric\n@attribute b numeric\n"
                    "@attribute y numeric\n@data\n1,2,0.25\n3,4,-1\n")
    data = read_arff(path)
    assert data.labels.tolist() == [0.25, -1.0] and data.class_labels is None


def test_extension_picks_the_reader(tmp_path):
    with pytest.raises(DataFileError, match="cannot tell the format from the extension '.xyz'"):
        read_series_file(tmp_path / "data.xyz")
    assert read_series_file(FIXTURES / "basic.ts").problem_name == "Basic"


def test_each_sample_knows_its_file_and_line():
    data = read_ts(FIXTURES / "basic.ts")
    assert data.path == str(FIXTURES / "basic.ts") and data.lines == [12, 14, 16]
    assert data.where(1) == f"{FIXTURES / 'basic.ts'}, line 14 (sample 1)"
    for path in (FIXTURES / "Toy_TRAIN.tsv", FIXTURES / "univariate.arff",
                 FIXTURES / "multivariate.arff", FIXTURES / "unequal.ts"):
        data = read_series_file(path)
        assert len(data.lines) == len(data) and data.lines == sorted(set(data.lines))
    assert TimeSeriesData([np.zeros((2, 1))]).where(0) == "sample 0"
