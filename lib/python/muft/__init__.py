"""muft from Python: checkpoints as numpy arrays, the spectral analyzer, run directories, the
theory checks and the meta-analysis (docs/python.md).

Every function runs muft's C++ code (the same code as the muft-* commands) with the GIL
released. Bad input raises ValueError (or KeyError for a tensor that is not there, TypeError for
an argument of the wrong type) and files that cannot be read raise OSError, each with muft's
one-line message. Results that are tables come back as a :class:`Table`: a dict of numpy
columns that ``pandas.DataFrame(table)`` turns into a data frame.

    >>> import muft, numpy as np
    >>> muft.metrics(np.eye(4))["stable_rank"]
    4.0
"""

import collections.abc as _abc
import json as _json
import os as _os

import numpy as _np

from . import _muft
from ._muft import Checkpoint, TensorInfo

__version__ = _muft.__version__

__all__ = [
    "Checkpoint", "Run", "Table", "TensorInfo", "best_lr", "checks", "diff", "meta", "metrics",
    "open", "open_run", "platform", "polar_express", "pool", "series", "spectra", "spectrum",
    "summarize", "verify",
]

# A Checkpoint is a read-only Mapping: the C++ class gives __getitem__, __len__, __iter__ and
# __contains__; keys/items/values/get/__eq__ come from the ABC's mixins.
for _name in ("keys", "items", "values", "get", "__eq__", "__ne__"):
    setattr(Checkpoint, _name, getattr(_abc.Mapping, _name))
_abc.Mapping.register(Checkpoint)


class Table(dict):
    """A result table: column name → numpy array, all of the same length, in column order.

    Strings are ``str`` arrays, numbers float64 (NaN where undefined), lists of numbers (the
    singular values) object arrays of float64 arrays. ``pandas.DataFrame(table)`` makes a data
    frame; :meth:`rows` gives one dict per row. Attributes describe the run that produced it:
    ``errors`` (one line per failed row, as muft-analyze prints them), ``skipped`` ((file,
    tensor, reason) of every tensor left out), ``notes`` (remarks on whole files), ``failed``
    (error rows) and ``seconds``; other attributes are documented by the function.
    """

    def __init__(self, columns=(), **attributes):
        super().__init__(columns)
        self.errors = []
        self.skipped = []
        self.notes = []
        self.failed = 0
        self.seconds = 0.0
        for key, value in attributes.items():
            setattr(self, key, value)

    @property
    def n_rows(self):
        """Number of rows."""
        return len(next(iter(self.values()))) if self else 0

    def rows(self):
        """One dict per row (column name → Python value)."""
        cols = {k: v.tolist() if v.dtype != object else list(v) for k, v in self.items()}
        return [{k: cols[k][i] for k in cols} for i in range(self.n_rows)]

    def where(self, mask):
        """The rows where the boolean array ``mask`` is true, as a new Table."""
        mask = _np.asarray(mask, dtype=bool)
        out = Table({k: v[mask] for k, v in self.items()})
        out.__dict__.update(self.__dict__)
        return out

    def __repr__(self):
        return "<muft.Table %d rows: %s>" % (self.n_rows, ", ".join(self.keys()))


def _table(columns, info=None, **extra):
    t = Table(columns)
    for key, value in (info or {}).items():
        setattr(t, key, value)
    for key, value in extra.items():
        setattr(t, key, value)
    return t


def _path(p, what="path"):
    try:
        return _os.fsdecode(_os.fspath(p))
    except TypeError:
        raise TypeError("%s must be a str or os.PathLike, not %s" % (what, type(p).__name__)) from None


def _paths(ps, what="paths"):
    if isinstance(ps, (str, bytes, _os.PathLike)):
        return [_path(ps, what)]
    return [_path(p, what) for p in ps]


def _strings(xs, what):
    if xs is None:
        return None
    if isinstance(xs, str):
        return [xs]
    out = list(xs)
    for x in out:
        if not isinstance(x, str):
            raise TypeError("%s must be strings, got %s" % (what, type(x).__name__))
    return out


def _as_array(w):
    """numpy's view of w; torch tensors are detached (and copied to the CPU when elsewhere),
    bfloat16 ones widened to float32, which numpy does not have."""
    if type(w).__module__.split(".")[0] == "torch":
        w = w.detach()
        if w.device.type != "cpu":
            w = w.cpu()
        if str(w.dtype) == "torch.bfloat16":
            w = w.float()
    return w


def _options(svd, rank_tol, spectrum, esd, include=None, exclude=None, jobs=None, lora=True,
             lora_alpha=None, lora_rank=None, groups=None):
    if groups is not None and isinstance(groups, _abc.Mapping):
        groups = ["%s=%s" % (k, v) for k, v in groups.items()]
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int)):
        raise TypeError("jobs must be an int or None")
    return {"svd": svd, "rank_tol": rank_tol, "spectrum": bool(spectrum), "esd": bool(esd),
            "include": _strings(include, "include"), "exclude": _strings(exclude, "exclude"),
            "jobs": jobs, "lora": bool(lora), "lora_alpha": lora_alpha, "lora_rank": lora_rank,
            "groups": _strings(groups, "groups")}


# ---- checkpoints and run directories ----

def open(path):  # noqa: A001 (the name the issue and the docs use)
    """Open any checkpoint muft reads, as a read-only mapping name → numpy array.

    Formats: muft HDF5 checkpoints, other HDF5 files (every numeric dataset of rank ≥ 2),
    safetensors (single, sharded by an ``*.index.json``, or a directory holding them), PyTorch
    ``torch.save`` archives (read without running their pickles) and GGUF. A tensor's array is a
    read-only view of the memory-mapped file, without copying, when the file stores it
    contiguously, uncompressed, little-endian and aligned as float32, float64 or an integer type
    (``array.base`` is then the Checkpoint, which stays open while the array lives); float16,
    bfloat16 and quantized (Q8_0) tensors, strided views and chunked HDF5 datasets are converted
    exactly into new float32 (float64 for F64) arrays. The checksums of a muft checkpoint are
    checked before its data are handed out.

    ``checkpoint.info(name)`` (a :class:`TensorInfo`: ``shape``, ``dtype``, ``array_dtype``,
    ``nbytes``, ``skip_reason``) and ``checkpoint.tensors`` describe the tensors without
    touching their data; ``checkpoint.format`` names the reader, ``checkpoint.note`` a remark on
    the file (e.g. a muft checkpoint without checksums).

    Raises OSError (with muft's one-line reason) for a missing, unreadable or invalid file,
    KeyError for an unknown tensor name, ValueError for a tensor whose values cannot be read.

        >>> ck = muft.open("runs/pre-adam/checkpoints/step_001500.h5")
        >>> w = ck["blocks.0.attn.c_q.weight"]          # float32 view of the file
        >>> w.shape, w.base is ck
        ((256, 256), True)
    """
    return _muft.open_checkpoint(_path(path))


class Run:
    """A muft run directory, read through muft's one definition of its format.

    Attributes: ``path``; ``config`` (config.json as a dict, None when absent); ``status``
    (status.json as a dict, None when absent or unreadable); ``state`` (what an observer sees:
    pending, running, interrupted, completed, diverged, collapsed, failed, corrupt) and
    ``reason``; ``metrics`` (metrics.csv as a numpy structured array, one field per column:
    ``step`` and ``tokens`` int64, the rest float64); ``incomplete_rows`` (a last line cut off
    by a killed writer, dropped); ``checkpoints`` (list of (step, path), by step).
    """

    def __init__(self, raw):
        self.path = raw["path"]
        self.config = None if raw["config"] is None else _json.loads(raw["config"])
        self.status = None if raw["status"] is None else _json.loads(raw["status"])
        self.state = raw["state"]
        self.reason = raw["reason"]
        names, ints, cols = raw["metric_names"], raw["metric_integer"], raw["metric_columns"]
        n = len(cols[names[0]]) if names else 0
        self.metrics = _np.zeros(n, dtype=[(k, "i8" if i else "f8") for k, i in zip(names, ints)])
        for k in names:
            self.metrics[k] = cols[k]
        self.incomplete_rows = raw["incomplete_rows"]
        self.checkpoints = [tuple(c) for c in raw["checkpoints"]]

    def open(self, step=None):
        """The checkpoint of ``step`` (default: the newest) as :func:`muft.open` opens it.
        Raises ValueError when the run has no checkpoint of that step."""
        if not self.checkpoints:
            raise ValueError("%s: the run has no checkpoints" % self.path)
        if step is None:
            return open(self.checkpoints[-1][1])
        for s, p in self.checkpoints:
            if s == step:
                return open(p)
        raise ValueError("%s: no checkpoint of step %r (steps: %s)"
                         % (self.path, step, ", ".join(str(s) for s, _ in self.checkpoints)))

    def __repr__(self):
        return "<muft.Run %r %s, %d metrics rows, %d checkpoints>" % (
            self.path, self.state, len(self.metrics), len(self.checkpoints))


def open_run(path):
    """Read a muft run directory (config.json, status.json, metrics.csv, checkpoints/) into a
    :class:`Run`. Raises OSError when ``path`` is not a directory or metrics.csv is malformed.

        >>> run = muft.open_run("runs/pre-muon")
        >>> run.state, run.metrics["val_loss"][-1]
        ('completed', 2.31...)
        >>> ck = run.open()                                # the newest checkpoint
    """
    return Run(_muft.open_run(_path(path)))


# ---- spectral metrics ----

def metrics(w, svd="gram", esd=False, *, rank_tol=None, spectrum=False):
    """Spectral metrics of one matrix, as ``muft-analyze spectra`` writes them per row.

    ``w``: a numpy array or anything with ``__array__`` (a CPU torch tensor is read in place
    when contiguous; bfloat16 tensors are widened to float32), float16/32/64, rank ≥ 2 (rank > 2
    reshaped to (dim0, rest)). C- and F-contiguous arrays are read without copying.

    ``svd``: ``"gram"`` (eigenvalues of the smaller Gram matrix; the default), ``"exact"``
    (bidiagonal SVD) or ``"fast"`` (σ₁ only by Lanczos: norms and stable rank, the rest NaN).
    ``rank_tol``: relative tolerance of the numerical rank (default: the method's).
    ``spectrum``: also return every singular value. ``esd``: also the heavy-tailed ESD metrics of
    ``muft-analyze --esd`` (lambda_max, alpha, alpha_weighted, alpha_stderr, xmin, ks_distance,
    num_pl_spikes, mp_bulk_max, num_spikes, mp_softrank; docs/analyzer.md).

    Returns a dict: ``rows``, ``cols``, ``frobenius_norm``, ``spectral_norm``, ``nuclear_norm``,
    ``max_abs``, ``stable_rank``, ``svd_entropy``, ``effective_rank``, ``numerical_rank``,
    ``rank_tol``, ``status`` (ok, zero, non_finite, empty, not_converged) and ``reason``, plus
    ``singular_values`` with spectrum=True. Zero, empty or non-finite matrices give NaN metrics
    and a status, never an exception.

        >>> m = muft.metrics(np.random.default_rng(0).standard_normal((512, 256)))
        >>> round(m["stable_rank"], 1), m["status"]
    """
    return _muft.metrics(_as_array(w), svd, rank_tol, bool(spectrum), bool(esd))


def spectrum(w, svd="gram"):
    """The singular values of a matrix (float64, descending, min(m, n) of them); ``svd`` is
    ``"gram"`` (accurate for σ² above ~1e-8·σ₁²) or ``"exact"``. Same inputs as :func:`metrics`;
    non-finite entries raise ValueError.

        >>> muft.spectrum(np.diag([3.0, 1.0, 2.0]))
        array([3., 2., 1.])
    """
    return _muft.spectrum(_as_array(w), svd)


_BATCH_DOC = """
    Options shared with the muft-analyze flags: ``include`` / ``exclude`` (regexes on tensor
    names, any match), ``jobs`` (parallel jobs on muft's thread pool; None: every core),
    ``svd`` (gram, exact, fast), ``rank_tol``, ``spectrum`` (add the ``singular_values``
    column), ``lora`` (pair lora_A/lora_B factors and add their merged update), ``lora_alpha``,
    ``lora_rank``, ``groups`` (layer-group rules, "NAME=REGEX" strings or a dict, replacing the
    defaults) and ``esd`` (the ESD columns of ``--esd``).
"""


def spectra(paths, include=None, exclude=None, jobs=None, *, svd="gram", rank_tol=None,
            spectrum=False, lora=True, lora_alpha=None, lora_rank=None, groups=None, esd=False):
    """Per-matrix metrics of every checkpoint in ``paths`` (files, directories searched
    recursively, or globs), one row per matrix (and per LoRA pair), as ``muft-analyze spectra``:
    the same columns (docs/formats.md, "muft-analyze outputs"), in input order and by tensor
    name. A file that cannot be read, or an argument that matches nothing, is a row with status
    ``error`` and its reason, as in the CLI's output; the table's ``errors`` lists them.
    """
    cols, info = _muft.spectra(_paths(paths), _options(svd, rank_tol, spectrum, esd, include,
                                                       exclude, jobs, lora, lora_alpha,
                                                       lora_rank, groups))
    return _table(cols, info)


spectra.__doc__ += _BATCH_DOC + """
        >>> t = muft.spectra("runs/pre-adam/checkpoints/step_001500.h5", include="attn")
        >>> t["tensor"], t["stable_rank"]
"""


def diff(base, paths, map=None, relative_to=None, report_missing=True, *, include=None,
         exclude=None, jobs=None, svd="gram", rank_tol=None, spectrum=False, lora=True,
         lora_alpha=None, lora_rank=None, groups=None, esd=False):  # noqa: A002
    """Distances of each checkpoint in ``paths`` from ``base``, per tensor and in total, as
    ``muft-analyze diff``: l2, relative and cosine distance, and the spectral metrics of
    ΔW = W − W0 (LoRA adapters merged as W0 + s·B·A without forming the product). ``map``:
    name rules "regex=>replacement" from checkpoint to base names; ``relative_to``: a reference
    checkpoint whose distances become the denominators of the ``*_ratio`` columns;
    ``report_missing``: error rows for base tensors a full checkpoint lacks. Raises OSError
    when the base (or the reference) cannot be opened, ValueError for a path that matches
    nothing.
    """
    cols, info = _muft.diff(_path(base, "base"), _paths(paths), _strings(map, "map"),
                            None if relative_to is None else _path(relative_to, "relative_to"),
                            bool(report_missing),
                            _options(svd, rank_tol, spectrum, esd, include, exclude, jobs, lora,
                                     lora_alpha, lora_rank, groups))
    return _table(cols, info)


diff.__doc__ += _BATCH_DOC + """
        >>> t = muft.diff("runs/pre/checkpoints/step_001500.h5", ["runs/ft-adam", "runs/ft-muon"])
        >>> t.where(t["tensor"] == "__total__")["l2_distance"]
"""


def series(run_dirs, base=None, map=None, per_tensor=False, *, include=None, exclude=None,
           jobs=None, svd="gram", rank_tol=None, spectrum=False, lora=True, lora_alpha=None,
           lora_rank=None, groups=None, esd=False):  # noqa: A002
    """Every metric versus training step for the checkpoints of each run directory,
    aggregated by layer group, as ``muft-analyze series``: one row per (checkpoint, group) with
    ``run, file, step, group, n_tensors, n_failed`` and the mean and ``_std`` of each metric
    over the group's matrices, in the order of ``run_dirs`` and by step. With ``base`` the rows
    describe each step's distance from it. With ``per_tensor=True`` returns ``(groups,
    tensors)``, the second table holding every matrix's row; failed matrices are listed in
    ``groups.errors`` either way.
    """
    groups_cols, tensor_cols, info = _muft.series(
        _paths(run_dirs, "run_dirs"), None if base is None else _path(base, "base"),
        _strings(map, "map"), bool(per_tensor),
        _options(svd, rank_tol, spectrum, esd, include, exclude, jobs, lora, lora_alpha,
                 lora_rank, groups))
    by_group = _table(groups_cols, info)
    if not per_tensor:
        return by_group
    return by_group, _table(tensor_cols, info)


series.__doc__ += _BATCH_DOC + """
        >>> s = muft.series(["runs/pre-adam", "runs/pre-muon"])
        >>> q = s.where(s["group"] == "Q")
        >>> plt.plot(q["step"], q["stable_rank"])
"""


# ---- theory ----

def checks():
    """The names of muft's verification checks and their statements (dict, documented order)."""
    return _muft.checks()


def verify(only=None, instances=None, seed=None):
    """Run muft's named checks of the implicit-bias theory (every check, or those in ``only``)
    on ``instances`` seeded random instances each (default 24, seed 2605, as muft-verify) and
    return the check table: ``name, statement, instances, worst_error, bound, worst_ratio,
    status`` (PASS, FAIL, INFO)``, seconds, note``. Attributes: ``all_pass`` (no FAIL),
    ``metrics`` (check name → its named numbers, as in muft-verify --json).

        >>> t = muft.verify(["thm-3.1-signgd"], instances=5)
        >>> t["status"], t.all_pass
    """
    only = _strings(only, "only")
    if instances is not None and (isinstance(instances, bool) or not isinstance(instances, int)):
        raise TypeError("instances must be an int or None")
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError("seed must be an int or None")
        if not 0 <= seed < 2 ** 64:
            raise ValueError("seed must be in [0, 2^64 - 1], got %d" % seed)
    if instances is not None and not -2 ** 31 <= instances < 2 ** 31:
        raise ValueError("instances must be in [1, 100000], got %d" % instances)
    cols, info = _muft.verify(only, instances, seed)
    return _table(cols, info)


def polar_express(lower=None, iterations=None, safety=None, cushion=None):
    """The Polar Express coefficients (a, b, c) of the odd quintics a·x + b·x³ + c·x⁵, one row
    per iteration, as ``muft-verify coefficients`` generates them: ``lower`` ℓ (default 1e-3),
    ``iterations`` K (10), ``safety`` (1e-2) and ``cushion`` (0.02). Returns a (K, 3) float64
    array.

        >>> muft.polar_express(iterations=3)
    """
    d_lower, d_iterations, d_safety, d_cushion = _muft.polar_express_defaults
    if iterations is not None and (isinstance(iterations, bool) or not isinstance(iterations, int)):
        raise TypeError("iterations must be an int")
    if iterations is not None and not -2 ** 31 <= iterations < 2 ** 31:
        raise ValueError("iterations must be in [1, 1000], got %d" % iterations)
    return _muft.polar_express(d_lower if lower is None else float(lower),
                               d_iterations if iterations is None else iterations,
                               d_safety if safety is None else float(safety),
                               d_cushion if cushion is None else float(cushion))


# ---- statistics ----

def _column_rows(table, names, what):
    """Rows (tuples) of the named columns of a mapping of columns (a Table, a dict of lists or
    arrays, a pandas DataFrame)."""
    try:
        cols = [list(table[n]) for n in names]
    except KeyError as e:
        raise ValueError("%s: no column %s (need %s)" % (what, e, ", ".join(names))) from None
    return list(zip(*cols))


def meta(table=None, full_a=None, full_b=None, lora_a=None, lora_b=None, *, seeds=None,
         value=None, task_columns=("task",), method_column="method", seed_column="seed",
         tasks=None, confidence=0.95):
    """The random-effects meta-analysis of LoRA's mitigation of the optimizer mismatch, as
    ``muft-stats meta``: per task the gap reduction y = (full_a − full_b) − (lora_a − lora_b),
    pooled by DerSimonian–Laird with the Hartung–Knapp–Sidik–Jonkman interval.

    Input, exactly one of: ``table``, per-method means (a CSV path with columns task, method,
    mean, std, n, or a mapping of those columns); ``seeds``, per-run values paired by seed (a
    CSV path, with ``value`` naming the metric column and ``task_columns`` / ``method_column``
    / ``seed_column`` the others, or a mapping with columns task, method, seed, value).
    ``tasks``: pool only these; ``confidence``: of every interval.

    Returns a dict laid out as ``muft-stats meta --json`` writes it: ``estimate, k, tau2, q,
    i2, fixed_estimate, confidence, input, skipped, dl`` (se, ci_low, ci_high, z, p_value),
    ``hksj`` (se, ci_low, ci_high, t, df, p_value, scale, modified), ``tasks`` (a Table: task, y,
    variance, df, ci_low, ci_high, weight) and ``methods``; NaN where the JSON has null.

        >>> r = muft.meta("runs/smoke/methods.csv", "full-adam", "full-muon",
        ...               "lora-adam-r4", "lora-muon-r4")
        >>> r["estimate"], r["hksj"]["ci_low"], r["hksj"]["ci_high"]
    """
    if (table is None) == (seeds is None):
        raise ValueError("give exactly one of table (per-method means) and seeds (per-run "
                         "values, paired by seed)")
    for name, v in (("full_a", full_a), ("full_b", full_b), ("lora_a", lora_a),
                    ("lora_b", lora_b)):
        if not isinstance(v, str):
            raise TypeError("%s must name a method (str)" % name)
    opts = {"full_a": full_a, "full_b": full_b, "lora_a": lora_a, "lora_b": lora_b,
            "tasks": _strings(tasks, "tasks"), "confidence": float(confidence)}
    if not 0 < opts["confidence"] < 1:
        raise ValueError("confidence must be in (0, 1), got %r" % confidence)
    if table is not None:
        if value is not None:
            raise ValueError("value applies to seeds only (a means table has a mean column)")
        if isinstance(table, _abc.Mapping):
            opts["origin"] = "table"
            rows = _column_rows(table, ("task", "method", "mean", "std", "n"), "table")
        else:
            rows = opts["origin"] = _path(table, "table")
        r = _muft.meta_means(rows, opts)
    else:
        if isinstance(seeds, _abc.Mapping):
            opts["origin"] = "seeds"
            rows = [(str(t), str(m), str(s), v) for t, m, s, v in
                    _column_rows(seeds, ("task", "method", "seed", "value"), "seeds")]
        else:
            if not isinstance(value, str):
                raise ValueError("seeds needs value='COLUMN' (the metric to compare)")
            opts.update(value=value, task_columns=_strings(task_columns, "task_columns"),
                        method_column=method_column, seed_column=seed_column)
            rows = opts["origin"] = _path(seeds, "seeds")
        r = _muft.meta_seeds(rows, opts)
    r["tasks"] = Table(r["tasks"])
    return r


def best_lr(lr, value, maximize=False, confidence=0.95):
    """Best-over-learning-rate selection, as ``muft-sweep report`` and ``muft-stats summary
    --best-lr`` make it: group ``value`` (one entry per run) by ``lr``, and pick the learning
    rate with the best finite mean (ties: the smaller rate; a rate where any run is NaN or
    infinite — a diverged or unfinished run — is never picked).

    Returns a dict: ``selected`` (False when every rate has a non-finite mean), ``lr`` (NaN
    then), ``n``, ``mean``, ``std``, ``sem``, ``ci_low``, ``ci_high`` at that rate, and
    ``candidates`` (every lr, increasing, and its mean).

        >>> muft.best_lr([0.1, 0.1, 0.01, 0.01], [2.0, 2.2, 1.5, float("nan")])["lr"]
        0.1
    """
    lr = _np.asarray(lr, dtype=float).ravel()
    value = _np.asarray(value, dtype=float).ravel()
    return _muft.best_lr(lr.tolist(), value.tolist(), bool(maximize), float(confidence))


def summarize(values, confidence=0.95):
    """Mean, sample standard deviation and the two-sided Student-t interval of the mean of
    ``values`` (one metric over seeds), as ``muft-stats summary`` computes them.

    Returns a dict: ``n``, ``mean``, ``std`` (0 for one value), ``sem``, ``ci_low``,
    ``ci_high`` (NaN for one value) and ``confidence``. Raises ValueError for no values or a
    confidence outside (0, 1).

        >>> muft.summarize([1.0, 2.0, 3.0])["ci_high"]  # 2 + t(0.975; 2) / sqrt(3)
        4.484...
    """
    v = _np.asarray(values, dtype=float).ravel()
    return _muft.summarize(v.tolist(), float(confidence))


def pool(effects, variances, names=None, confidence=0.95):
    """Random-effects pooling of per-task effects with known sampling variances: the
    DerSimonian-Laird estimate, its normal interval (``dl``) and the Hartung-Knapp-Sidik-Jonkman
    interval around it (``hksj``; ``hksj["modified"]`` is the form whose variance is floored at
    the DL one, the interval muft's verdicts use), as ``muft-stats meta`` pools the gap
    reductions.

    Returns a dict: ``estimate``, ``k``, ``tau2``, ``q`` (Cochran's Q), ``i2``,
    ``fixed_estimate``, ``confidence``, ``dl``, ``hksj`` and the normalized random-effects
    ``weights``. With one effect the HKSJ numbers are NaN. Raises ValueError when the lengths
    differ, a variance is not finite and > 0, or an effect is not finite.
    """
    y = _np.asarray(effects, dtype=float).ravel()
    v = _np.asarray(variances, dtype=float).ravel()
    n = [] if names is None else _strings(names, "names")
    return _muft.pool(y.tolist(), v.tolist(), n, float(confidence))


def platform():
    """One line about the machine muft computes on: the OpenBLAS core and thread count, the
    CPU's SIMD level and model (the line muft's benchmarks print)."""
    return _muft.platform_line()
