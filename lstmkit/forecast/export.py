"""A forecaster as one ONNX graph: raw recent values in, the forecast's
quantiles out, the whole pipeline inside (the series' scaling, every
member's window with its level, base and calendar features, the networks,
the median over members, the conformal widening and the inverse scaling),
so a service needs onnxruntime alone (no torch, no lstmkit).

    forecaster.export("forecaster.onnx")    # lstmkit export RUN_DIR

Inputs (N series at once; T, N dynamic):
    values     (N, T) float32: each series' latest values, oldest first;
               a series with fewer than T is padded at the front
    lengths    (N,) int64: how many of each row's values are real (the last ones)
    series     (N,) int64: which training series each row continues (its
               scaling); only for a forecaster trained on several
    dates      (N, T + H, 4) int64: year, month, day, hour of each value's
               step and of the H steps after; only for a calendar by dates
    steps_seen (N,) int64: how many values each series has had since its
               first (the position in the season); only for a calendar by phase
    known      (N, T + H, K) float32, past (N, T, P) float32, static
               (N, S) float32: the covariates the forecaster was trained with
    ->
    quantiles  (N, H, Q) float32: each step's quantiles, in the series' units
    forecast   (N, H) float32: the median (the point forecast)

The graph computes in float32 what Forecaster.predict computes in float64;
`verify` runs it in onnxruntime against predict before anything is written.
"""

import json
import math
import os

import numpy as np

from .. import __version__
from ..data.timeseries import step_date
from ..errors import InputError, InternalError
from ..export import (OPSET, Graph, NotExportable, align, all_real, check_writable, export_layer,
                      require_onnx, require_onnxruntime)
from ..files import atomic_write, make_folder_for
from ..streaming import state_layout
from .features import CYCLES
from .inputs import minimum_length

TOLERANCE = 1e-4  # of the forecast's scale: float32 here, float64 in predict
PIPELINE_SUFFIX = ".pipeline.json"
INT_MAX = 2 ** 62

# days before each month in a common year; Sakamoto's weekday offsets
MONTH_STARTS = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334]
WEEKDAY_OFFSETS = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4]


def graph_inputs(forecaster):
    """[(name, ONNX element type, shape)] of the graph's inputs, in order."""
    pre = forecaster.preprocessing
    inputs = [("values", "float", ["batch", "time"]), ("lengths", "int64", ["batch"])]
    if len(pre.scalings) > 1:
        inputs.append(("series", "int64", ["batch"]))
    if pre.calendar == "dates":
        inputs.append(("dates", "int64", ["batch", "time_and_horizon", 4]))
    elif pre.calendar == "phase":
        inputs.append(("steps_seen", "int64", ["batch"]))
    for name, shape in (("known", ["batch", "time_and_horizon", pre.widths["known"]]),
                        ("past", ["batch", "time", pre.widths["past"]]),
                        ("static", ["batch", pre.widths["static"]])):
        if pre.widths[name]:
            inputs.append((name, "float", shape))
    return inputs


def check_exportable(forecaster):
    if not forecaster.members:
        raise InputError("the forecaster is not fitted: nothing to export")
    if forecaster.settings["recursive"]:
        raise NotExportable("a recursive forecaster feeds each step's median back in, step by "
                            "step, which this export does not express; train the direct "
                            "multi-horizon one (the default) to export it")


# ----- the pipeline's pieces --------------------------------------------------------------

def steps(g, length):
    """(S,) int64 0..length-1 for a length given as a (scalar) graph value."""
    return g.op("Range", g.ints(0, "zero"), length, g.ints(1, "one"))


def time_length(g, x):
    return g.op("Gather", g.op("Shape", x), g.ints(1, "index"), axis=0)


def batch_shape(g, x, *rest):
    """The shape (N, *rest) as a graph value, N read off x."""
    n = steps_from(g, g.op("Shape", x), 0, axis=0, end=1)
    return g.op("Concat", n, *(g.ints([r]) if isinstance(r, int) else r for r in rest), axis=0)


def zeros(g, like, *rest, value=0, dtype=1):
    """(N, *rest) filled with `value` (float32; dtype 9: bool), N read off `like`."""
    fill = g.onnx.helper.make_tensor("fill", dtype, [1], [value])
    return g.op("ConstantOfShape", batch_shape(g, like, *rest), value=fill)


def steps_from(g, x, start, axis=1, end=INT_MAX):
    """x's steps start..end-1 along `axis` (negative start: from the end)."""
    return g.op("Slice", x, g.ints([start]), g.ints([end]), g.ints([axis]))


def window_of(g, x, count):
    """The last `count` steps of x (N, S) or (N, S, F), zero-padded at the front."""
    pad = zeros(g, x, count, steps_from(g, g.op("Shape", x), 2, axis=0))  # (N, count[, F])
    return steps_from(g, g.op("Concat", pad, x, axis=1), -count)


def calendar_from_dates(g, dates, frequency):
    """(N, S, W) sine/cosine features of `dates` (N, S, 4: year, month, day,
    hour), as features.calendar_features gives them for the frequency."""
    part = lambda k: g.op("Squeeze", steps_from(g, dates, k, axis=2, end=k + 1),
                          g.ints([2], "axes"))  # (N, S)
    year, month, day, hour = (part(k) for k in range(4))
    month0 = g.op("Clip", g.op("Sub", month, g.ints(1, "one")), g.ints(0, "zero"),
                  g.ints(11, "eleven"))

    def divisible(value, by):
        return g.op("Equal", g.op("Mod", value, g.ints(by, f"n{by}")), g.ints(0, "zero"))

    def weekday():  # Monday 0, as datetime.weekday(): Sakamoto's method, moved on a day
        y = g.op("Sub", year, g.op("Cast", g.op("Less", month0, g.ints(2, "two")), to=7))
        total = g.op("Add", g.op("Add", y, g.op("Div", y, g.ints(4, "n4"))),
                     g.op("Div", y, g.ints(400, "n400")))
        total = g.op("Sub", total, g.op("Div", y, g.ints(100, "n100")))
        total = g.op("Add", total, g.op("Gather", g.ints(WEEKDAY_OFFSETS, "weekday_offsets"),
                                        month0, axis=0))
        sunday0 = g.op("Mod", g.op("Add", total, day), g.ints(7, "n7"))
        return g.op("Mod", g.op("Add", sunday0, g.ints(6, "n6")), g.ints(7, "n7"))

    def year_day():  # 0 on January 1st, as timetuple().tm_yday - 1
        leap = g.op("Or", g.op("And", divisible(year, 4), g.op("Not", divisible(year, 100))),
                    divisible(year, 400))
        after_february = g.op("And", leap, g.op("Greater", month0, g.ints(1, "one")))
        start = g.op("Gather", g.ints(MONTH_STARTS, "month_starts"), month0, axis=0)
        return g.op("Add", g.op("Add", start, g.op("Sub", day, g.ints(1, "one"))),
                    g.op("Cast", after_february, to=7))

    positions = {"monthly": [(month0, 12)],
                 "quarterly": [(g.op("Div", month0, g.ints(3, "n3")), 4)],
                 "weekly": [(year_day(), 365.25)],
                 "daily": [(weekday(), 7), (year_day(), 365.25)],
                 "hourly": [(hour, 24), (weekday(), 7)],
                 "yearly": []}[frequency]
    assert len(positions) == len(CYCLES[frequency])
    return sine_cosine(g, positions)


def sine_cosine(g, positions):
    """(N, S, 2 * len(positions)) sin and cos of 2 pi position / period."""
    columns = []
    for position, period in positions:
        angle = g.op("Mul", g.op("Cast", position, to=1),
                     g.const(2 * math.pi / period, "angle_per_step"))
        columns += [g.op("Sin", angle), g.op("Cos", angle)]
    if not columns:
        return None
    return g.op("Concat", *(g.op("Unsqueeze", c, g.ints([-1], "axes")) for c in columns),
                axis=-1)


def scaled(g, forecaster, drop):
    """The scaled series z (N, S) and its real steps (N, S) bool, from the
    inputs values and lengths, with the per-row shift and scale (N, 1) and
    the last (logged) value (N, 1) the inverse adds differences onto."""
    pre = forecaster.preprocessing
    T = time_length(g, "values")
    real = g.op("GreaterOrEqual", g.op("Unsqueeze", steps(g, T), g.ints([0], "axes")),
                g.op("Unsqueeze", g.op("Sub", T, "lengths"), g.ints([1], "axes")))  # (N, T)
    log = pre.scalings[0].log
    u = g.op("Where", real, "values", g.const(1.0, "one_float"))
    u = g.op("Log", u) if log else u
    last = steps_from(g, u, -1)  # (N, 1)
    if drop:
        u = g.op("Sub", steps_from(g, u, 1), steps_from(g, u, 0, end=-1))
        real = g.op("And", steps_from(g, real, 1), steps_from(g, real, 0, end=-1))
    table = np.array([[s.shift, s.scale] for s in pre.scalings], np.float32)
    row = "series" if len(pre.scalings) > 1 else g.op("Mul", "lengths", g.ints(0, "zero"))
    picked = g.op("Gather", g.const(table, "scalings"), row, axis=0)  # (N, 2)
    shift, scale = steps_from(g, picked, 0, end=1), steps_from(g, picked, 1, end=2)
    z = g.op("Where", real, g.op("Div", g.op("Sub", u, shift), scale),
             g.const(0.0, "zero_float"))
    return z, real, shift, scale, last


def known_features(g, forecaster, z, drop):
    """(N, S + H, K) the known-future features of z's steps and the
    horizon's: the calendar, then the user's known covariates; or None."""
    pre = forecaster.preprocessing
    H = pre.horizon
    parts = []
    if pre.calendar == "dates":
        parts.append(calendar_from_dates(g, steps_from(g, "dates", drop), pre.frequency))
    elif pre.calendar == "phase":
        S = time_length(g, z)
        positions = steps(g, g.op("Add", S, g.ints(H, "horizon")))  # (S + H,)
        start = g.op("Sub", g.op("Sub", "steps_seen", g.ints(drop, "drop")), S)  # (N,)
        phase = g.op("Mod", g.op("Add", g.op("Unsqueeze", start, g.ints([1], "axes")),
                                 g.op("Unsqueeze", positions, g.ints([0], "axes"))),
                     g.ints(pre.season, "season"))  # (N, S + H)
        parts.append(sine_cosine(g, [(phase, pre.season)]))
    if pre.widths["known"]:
        parts.append(steps_from(g, "known", drop))
    parts = [p for p in parts if p is not None]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else g.op("Concat", *parts, axis=-1)


def member_quantiles(g, forecaster, index, model, z, real, known, past):
    """One member's quantiles (N, H, Q) in scaled units (level and base added
    back), from its window of the last `timesteps` steps."""
    pre, s = forecaster.preprocessing, forecaster.settings
    T, H, Q = model.metadata["timesteps"], pre.horizon, len(s["quantiles"])
    m = max(int(pre.season), 1)
    z_w = window_of(g, z, T)  # (N, T)
    real_w = g.op("Cast", window_of(g, g.op("Cast", real, to=1), T), to=9)
    real_f = g.op("Cast", real_w, to=1)
    origin = steps_from(g, z_w, -1)  # (N, 1): the window's last value
    if s["level"] == "last":
        level = origin
    elif s["level"] == "mean":
        tail_f = steps_from(g, real_f, -m)
        total = g.op("ReduceSum", g.op("Mul", steps_from(g, z_w, -m), tail_f),
                     g.ints([1], "axes"), keepdims=1)
        count = g.op("ReduceSum", tail_f, g.ints([1], "axes"), keepdims=1)
        level = g.op("Div", total, g.op("Max", count, g.const(1.0, "one_float")))
    else:
        level = zeros(g, z, 1)
    k = np.arange(1, H + 1)
    back = T - 1 + k - m * np.ceil(k / m).astype(int)  # (H,) window positions one season back
    if s["base"] == "seasonal":
        at = g.ints(np.clip(back, 0, T - 1), "season_back")
        usable = g.op("And", g.const(back >= 0, "back_in_window", np.bool_),
                      g.op("Gather", real_w, at, axis=1))
        base = g.op("Sub", g.op("Where", usable, g.op("Gather", z_w, at, axis=1), origin), level)
    else:
        base = zeros(g, z, H)
    value = g.op("Where", real_w, g.op("Sub", z_w, level), g.const(0.0, "zero_float"))
    channel = lambda x: g.op("Unsqueeze", x, g.ints([-1], "axes"))
    columns = [channel(g.op("Concat", value, zeros(g, z, H), axis=1)),
               channel(g.op("Add", zeros(g, z, T + H),
                            g.const(np.r_[np.zeros(T), np.ones(H)], "is_future")))]
    if known is not None:
        columns.append(window_of(g, known, T + H))
    if past is not None:
        columns.append(g.op("Concat", window_of(g, past, T), zeros(g, z, H, pre.widths["past"]),
                            axis=1))
    if pre.widths["static"]:
        shape = batch_shape(g, z, T + H, pre.widths["static"])
        columns.append(g.op("Expand", g.op("Unsqueeze", "static", g.ints([1], "axes")), shape))
    x = g.op("Concat", *columns, axis=2)  # (N, T + H, F)
    mask = g.op("Concat", real_w, zeros(g, z, H, value=True, dtype=9), axis=1)
    out = network(g, index, model, x, mask)  # (N, H * Q)
    q = g.op("Reshape", out, g.ints([0, H, Q]))
    return g.op("Add", g.op("Add", q, g.op("Unsqueeze", level, g.ints([-1], "axes"))),
                g.op("Unsqueeze", base, g.ints([-1], "axes")))


def network(g, member, model, x, mask):
    """A member's layers on x (N, T + H, F) with its mask (padding at the
    front), from zero states; the weights' names carry the member's number."""
    all_real(g, x)  # `lengths` has no say here: the mask below marks the padding
    g.order = None
    x, mask = align(g, x, mask, x_rank=3)
    for i, layer in enumerate(model.layers):
        states = {name: g.op("Transpose", zeros(g, x, stacked, size), perm=[1, 0, 2])
                  for name, (stacked, size) in state_layout(model).get(i, [])}  # zeros (L*D, N, ·)
        x, mask, _ = export_layer(g, member * 100 + i, layer, x, mask, states)
    return x


def combine(g, forecaster, members):
    """The median over members (N, H, Q), each step's quantiles sorted, then
    the conformal widening, as Forecaster.predict does it."""
    pre, s = forecaster.preprocessing, forecaster.settings
    Q = len(s["quantiles"])
    if len(members) == 1:
        q = members[0]
    else:
        stacked = g.op("Concat", *(g.op("Unsqueeze", m, g.ints([0], "axes")) for m in members),
                       axis=0)  # (M, N, H, Q)
        ordered, _ = g.op("TopK", stacked, g.ints([len(members)], "members"), axis=0,
                          outputs=2)
        middle = [(len(members) - 1) // 2, len(members) // 2]
        pick = lambda i: g.op("Gather", ordered, g.ints(i, f"member_{i}"), axis=0)
        q = g.op("Mul", g.op("Add", pick(middle[0]), pick(middle[1])), g.const(0.5, "half"))
    q, _ = g.op("TopK", q, g.ints([Q], "quantile_count"), axis=-1, largest=0, outputs=2)
    if pre.correction is None:
        return q
    c = g.const(np.asarray(pre.correction, np.float32)[None, :, None], "conformal")  # (1, H, 1)
    column = lambda i: steps_from(g, q, i, axis=2, end=i + 1)
    median = column(list(s["quantiles"]).index(0.5))
    lower = g.op("Min", g.op("Sub", column(0), c), median)
    if Q == 1:
        return g.op("Max", g.op("Add", lower, c), median)
    upper = g.op("Max", g.op("Add", column(Q - 1), c), median)
    inner = [steps_from(g, q, 1, axis=2, end=Q - 1)] if Q > 2 else []
    return g.op("Concat", lower, *inner, upper, axis=2)


def build_pipeline(forecaster):
    """The ONNX ModelProto of the whole forecasting pipeline."""
    onnx = require_onnx()
    helper = onnx.helper
    pre, s = forecaster.preprocessing, forecaster.settings
    g = Graph(onnx)
    drop = pre.scalings[0].drops
    types = {"float": onnx.TensorProto.FLOAT, "int64": onnx.TensorProto.INT64}
    inputs = [helper.make_tensor_value_info(name, types[kind], shape)
              for name, kind, shape in graph_inputs(forecaster)]
    z, real, shift, scale, last = scaled(g, forecaster, drop)
    known = known_features(g, forecaster, z, drop)
    past = steps_from(g, "past", drop) if pre.widths["past"] else None
    members = [member_quantiles(g, forecaster, i, model, z, real, known, past)
               for i, model in enumerate(forecaster.members)]
    q = combine(g, forecaster, members)
    v = g.op("Add", g.op("Mul", q, g.op("Unsqueeze", scale, g.ints([-1], "axes"))),
             g.op("Unsqueeze", shift, g.ints([-1], "axes")))
    if drop:
        v = g.op("Add", g.op("CumSum", v, g.ints(1, "axis")),
                 g.op("Unsqueeze", last, g.ints([-1], "axes")))
    if pre.scalings[0].log:
        v = g.op("Exp", v)
    g.nodes.append(helper.make_node("Identity", [v], ["quantiles"]))
    median = list(s["quantiles"]).index(0.5)
    g.nodes.append(helper.make_node("Squeeze", [steps_from(g, v, median, axis=2, end=median + 1),
                                                g.ints([2], "axes")], ["forecast"]))
    H, Q = pre.horizon, len(s["quantiles"])
    outputs = [helper.make_tensor_value_info("quantiles", onnx.TensorProto.FLOAT,
                                             ["batch", H, Q]),
               helper.make_tensor_value_info("forecast", onnx.TensorProto.FLOAT, ["batch", H])]
    graph = helper.make_graph(g.nodes, "lstmkit_forecaster", inputs, outputs, g.initializers)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="lstmkit", producer_version=__version__)
    proto.ir_version = 8
    entry = proto.metadata_props.add()
    entry.key, entry.value = "lstmkit_pipeline", json.dumps(pipeline_document(forecaster))
    onnx.checker.check_model(proto)
    return proto


def pipeline_document(forecaster):
    """What the graph takes and gives, for a program that feeds it."""
    pre, s = forecaster.preprocessing, forecaster.settings
    return {"format": "lstmkit.onnx_forecaster", "format_version": 1,
            "lstmkit_version": __version__,
            "inputs": [{"name": n, "type": t, "shape": shape}
                       for n, t, shape in graph_inputs(forecaster)],
            "outputs": ["quantiles", "forecast"], "horizon": pre.horizon,
            "quantiles": list(s["quantiles"]), "frequency": pre.frequency,
            "season": pre.season, "calendar": pre.calendar,
            "series": len(pre.scalings),
            "fewest_values": 1 + pre.scalings[0].drops,
            "last_dates": [None if d is None else d.isoformat() for d in pre.last_dates],
            # the CSV columns (and holidays) `lstmkit forecast` trained on, where it did
            "columns": (forecaster.info or {}).get("data"),
            "notes": {"values": "each row's latest values, oldest first; fewer than the "
                                "others padded at the front, lengths counts the real ones",
                      "dates": "year, month, day, hour of every step of values and of the "
                               "horizon's steps after them",
                      "steps_seen": "how many values the series has had since its first"}}


# ----- checking and writing --------------------------------------------------------------

def sample_rows(forecaster, rng, lengths):
    """Series to check the graph with, one per length: values in the range
    the scalings saw, their dates, covariates, and the graph's feeds."""
    pre = forecaster.preprocessing
    H, S = pre.horizon, len(pre.scalings)
    T = max(lengths)
    rows, feeds = [], {name: [] for name, _, _ in graph_inputs(forecaster)}
    for r, n in enumerate(lengths):
        scaling = pre.scalings[r % S]
        u = scaling.shift + scaling.scale * rng.standard_normal(n)
        if scaling.difference:
            u = np.cumsum(np.r_[rng.standard_normal() + (2.0 if scaling.log else 100.0),
                                u[1:]])
        values = np.exp(u) if scaling.log else u
        dates = None
        if pre.calendar == "dates":
            first = step_date(pre.last_dates[r % S], pre.frequency, int(rng.integers(-400, 400)))
            dates = [step_date(first, pre.frequency, k) for k in range(n + H)]
        row = {"values": values, "dates": None if dates is None else dates[:n]}
        for name, width, extra in (("known", pre.widths["known"], H),
                                   ("past", pre.widths["past"], 0)):
            row[name] = rng.standard_normal((n + extra, width)) if width else None
        row["static"] = rng.standard_normal(pre.widths["static"]) if pre.widths["static"] \
            else None
        rows.append(row)
        pad = T - n
        feeds["values"].append(np.r_[np.zeros(pad), values])
        feeds["lengths"].append(n)
        if "series" in feeds:
            feeds["series"].append(r % S)
        if "dates" in feeds:
            parts = [[d.year, d.month, d.day, d.hour] for d in dates]
            feeds["dates"].append([[0, 0, 0, 0]] * pad + parts)
        if "steps_seen" in feeds:
            feeds["steps_seen"].append(n)
        for name in ("known", "past"):
            if name in feeds:
                feeds[name].append(np.r_[np.zeros((pad, row[name].shape[1])), row[name]])
        if "static" in feeds:
            feeds["static"].append(row["static"])
    dtypes = {"lengths": np.int64, "series": np.int64, "dates": np.int64,
              "steps_seen": np.int64}
    return rows, {k: np.asarray(v, dtype=dtypes.get(k, np.float32)) for k, v in feeds.items()}


def verify_pipeline(forecaster, data, batches=((3, 4), (1, 1), (4, 2))):
    """Run the graph in onnxruntime on batches of series of different
    lengths and compare with Forecaster.predict on each; InternalError (a
    bug) where they differ by more than TOLERANCE of the series' scale."""
    ort = require_onnxruntime()
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    pre = forecaster.preprocessing
    rng = np.random.default_rng(0)
    fewest = minimum_length(pre.horizon) + pre.scalings[0].drops
    for batch, spread in batches:
        lengths = [fewest + int(rng.integers(0, spread * pre.horizon + 1)) for _ in range(batch)]
        rows, feeds = sample_rows(forecaster, rng, lengths)
        got = session.run(["quantiles"], feeds)[0]
        for r, row in enumerate(rows):
            expected = expected_quantiles(forecaster, row, r)
            scale = max(float(np.max(np.abs(expected))), 1.0)
            worst = float(np.max(np.abs(got[r] - expected)))
            if not worst <= TOLERANCE * scale:
                raise InternalError(
                    f"the exported forecaster's quantiles differ from predict's on a series of "
                    f"{lengths[r]} values (max abs difference {worst:.3g}, the forecast's scale "
                    f"{scale:.3g}): a bug in lstmkit.forecast.export")


def expected_quantiles(forecaster, row, r):
    """predict's quantiles (H, Q) for one sampled row."""
    pre = forecaster.preprocessing
    S = len(pre.scalings)
    if S == 1:
        f = forecaster.predict(series=row["values"], dates=row["dates"], known=row["known"],
                               past=row["past"], static=row["static"])
        return np.stack([f.quantiles[q] for q in forecaster.settings["quantiles"]], -1)
    # predict uses the trained scalings when given one series per training series
    series = [row["values"]] * S
    pick = lambda v: None if v is None else [v] * S
    f = forecaster.predict(series=series, dates=pick(row["dates"]), known=pick(row["known"]),
                           past=pick(row["past"]), static=pick(row["static"]))
    return np.stack([f.quantiles[q][r % S] for q in forecaster.settings["quantiles"]], -1)


def export_forecaster(forecaster, path, verify=True):
    """Write `forecaster` as one ONNX graph to `path` and what it takes and
    gives as <path without .onnx>.pipeline.json beside it; checked by
    onnx.checker and, with `verify`, against predict in onnxruntime before
    anything is written. Returns the paths written."""
    path = os.fspath(path)
    check_exportable(forecaster)
    check_writable(path, "path")
    side = (path[:-5] if path.endswith(".onnx") else path) + PIPELINE_SUFFIX
    check_writable(side, "the pipeline file")
    data = build_pipeline(forecaster).SerializeToString()
    if verify:
        verify_pipeline(forecaster, data)
    document = json.dumps(pipeline_document(forecaster), indent=1).encode()
    make_folder_for(path, "path")
    try:
        atomic_write(side, document)
        atomic_write(path, data)
    except OSError as e:
        raise InputError(f"path {path}: cannot be written ({e.strerror or e})") from None
    return [path, side]
