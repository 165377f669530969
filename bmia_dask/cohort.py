"""Cohort studies: measure every subject on a cluster, then compare groups.

The course's chapter 4 recipe at scale. :func:`measure` turns a manifest (one
row per subject: ``id``, ``image`` store URL, optional ``labels`` store URL,
covariates) into one table row per subject and label, one task per subject on
a dask.distributed cluster or on local threads, streaming rows into the output
table as subjects finish (so a re-run resumes). :func:`compare` runs the
two-sample t-test of :func:`scipy.stats.ttest_ind` between two groups, with the
measure optionally normalised by another column (brain volume by skull volume),
and draws the box plot and the scatter that make the effect of the
normalisation visible.
"""

from __future__ import annotations

import dataclasses
import io
import time
from concurrent.futures import ThreadPoolExecutor, as_completed

import numpy as np
import pandas as pd
import scipy.stats

from .errors import BadInputError

__all__ = ["measure", "compare", "wide", "Comparison"]

MEASURES = ("n_voxels", "volume_mm3", "mean", "variance", "min", "max")
_ID_COLUMNS = ("id", "image")


def _read_table(table, name: str) -> tuple[pd.DataFrame, str]:
    """A DataFrame from a DataFrame or a CSV path/URL, and a name for messages."""
    if isinstance(table, pd.DataFrame):
        return table.copy(), name
    from .io.storage import url_to_fs

    url = str(table)
    fs, path = url_to_fs(url)
    try:
        with fs.open(path, "rb") as f:
            return pd.read_csv(f), url
    except FileNotFoundError:
        raise BadInputError(url, "not found") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise BadInputError(url, f"not a CSV table ({type(error).__name__}: {error})") from None


def _measure_subject(subject: dict) -> pd.DataFrame:
    """One subject's rows (one per label); runs inside a worker, on its own threads."""
    import dask

    from .io.zarr_store import open_image
    from .measure import regionprops_table

    image = open_image(subject["image"])
    if isinstance(subject.get("labels"), str) and subject["labels"]:
        labels = open_image(subject["labels"])
        if labels.shape != image.shape:
            raise BadInputError(subject["labels"], f"labels of shape {labels.shape} do not match the image "
                                f"{image.shape}")
    else:
        labels = (image != 0).astype(np.uint8)  # without labels the nonzero voxels are label 1
    # the subject is one task of the cluster: its chunks run on the worker's threads
    with dask.config.set(scheduler="threads"):
        rows = regionprops_table(labels, image, properties=MEASURES)
    rows.insert(0, "id", subject["id"])
    return rows


def _checked_manifest(manifest):
    manifest, name = _read_table(manifest, "manifest")
    missing = [c for c in _ID_COLUMNS if c not in manifest.columns]
    if missing:
        raise BadInputError(name, f"the manifest has no column {missing[0]!r} (columns: {list(manifest.columns)})")
    if manifest["id"].duplicated().any():
        raise BadInputError(name, f"subject id {manifest['id'][manifest['id'].duplicated()].iloc[0]!r} appears twice")
    manifest["id"] = manifest["id"].astype(str)
    return manifest, name


def measure(manifest, client=None, *, out=None, progress: bool = False, max_workers: int | None = None):
    """Measure every subject of a manifest: one row per subject and label.

    Parameters
    ----------
    manifest : pandas.DataFrame or str
        Columns ``id``, ``image`` (store URL), optionally ``labels`` (store
        URL of integer labels on the image's grid) and any covariates (age,
        sex, group, ...), which are copied to every row of the subject.
    client : distributed.Client, optional
        Run one task per subject on this cluster. Default: the active client
        (inside ``with Client(...)``), else local threads.
    out : str, optional
        CSV path or URL. Rows are written as subjects finish (each write
        atomic); subjects already measured there are skipped, so a re-run
        resumes. Failed subjects are written with their ``error`` and tried
        again on the next run.
    progress : bool
        Show a progress bar over the subjects.

    Returns
    -------
    pandas.DataFrame
        ``id``, ``label``, ``n_voxels``, ``volume_mm3``, ``mean``,
        ``variance``, ``min``, ``max``, the covariates, and ``error`` (empty
        when the subject was measured).

    Examples
    --------
    >>> import tempfile, bmia_dask as bd
    >>> folder = tempfile.mkdtemp()
    >>> manifest = bd.phantoms.write_cohort(folder, n=4, shape=(16, 20, 16))["manifest"]
    >>> table = bd.cohort.measure(manifest)
    >>> sorted(table.label.unique().tolist()), len(table)
    ([1, 2], 8)
    """
    manifest, _ = _checked_manifest(manifest)
    covariates = [c for c in manifest.columns if c not in ("image", "labels")]
    done = pd.DataFrame()
    if out is not None:
        from .io.storage import exists

        if exists(out):
            done, _ = _read_table(out, out)
            done["id"] = done["id"].astype(str)
            if "error" in done:
                done = done[done["error"].isna() | (done["error"] == "")]
    todo = manifest[~manifest["id"].isin(set(done.get("id", [])))]
    parts = [done] if len(done) else []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo), desc="subjects", unit="subject")
    last_write = [0.0]

    def finished(subject, rows=None, error=None):
        if rows is None:
            rows = pd.DataFrame({"id": [subject["id"]], "error": [error]})
        else:
            rows["error"] = ""
        for column in covariates:
            if column != "id":
                rows[column] = subject[column]
        parts.append(rows)
        if bar is not None:
            bar.update()
        if out is not None and time.monotonic() - last_write[0] > 1.0:
            _write_table(_assemble(parts, covariates), out)
            last_write[0] = time.monotonic()

    subjects = todo.to_dict(orient="records")
    client = client if client is not None else _active_client()
    if client is not None:
        futures = {client.submit(_measure_subject, s, pure=False): s for s in subjects}
        from distributed import as_completed as completed_futures

        for future in completed_futures(futures):
            _collect(future, futures[future], finished)
    else:
        with ThreadPoolExecutor(max_workers=max_workers or 4) as pool:
            futures = {pool.submit(_measure_subject, s): s for s in subjects}
            for future in as_completed(futures):
                _collect(future, futures[future], finished)
    if bar is not None:
        bar.close()
    table = _assemble(parts, covariates)
    if out is not None:
        _write_table(table, out)
    return table


def _active_client():
    try:
        from distributed import default_client

        return default_client()
    except (ImportError, ValueError):
        return None


def _collect(future, subject, finished):
    try:
        rows = future.result()
    except Exception as error:  # one subject's failure is recorded, the others go on
        if isinstance(error, (KeyboardInterrupt, MemoryError)):
            raise
        message = error.problem if isinstance(error, BadInputError) else f"{type(error).__name__}: {error}"
        finished(subject, error=message)
        return
    finished(subject, rows)


def _assemble(parts, covariates) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame(columns=["id", "label", *MEASURES, *[c for c in covariates if c != "id"], "error"])
    table = pd.concat(parts, ignore_index=True)
    first = ["id", "label", *MEASURES]
    rest = [c for c in table.columns if c not in first and c != "error"]
    table = table.reindex(columns=first + rest + ["error"])  # failures alone have no measures
    table["error"] = table["error"].fillna("")
    return table.sort_values(["id", "label"], kind="stable", na_position="last").reset_index(drop=True)


def _write_table(table: pd.DataFrame, url: str) -> None:
    from .io.storage import write_bytes

    buffer = io.StringIO()
    table.to_csv(buffer, index=False)
    write_bytes(url, buffer.getvalue().encode())


def wide(table) -> pd.DataFrame:
    """One row per subject: each measure of label ``k`` becomes column ``{measure}_label{k}``.

    Subject covariates are kept; failed subjects are left out.

    Examples
    --------
    >>> import pandas as pd
    >>> long = pd.DataFrame({"id": ["a", "a", "b", "b"], "label": [1, 2, 1, 2],
    ...                      "volume_mm3": [10.0, 5.0, 12.0, 6.0], "age": [70, 70, 71, 71]})
    >>> wide(long).columns.tolist()
    ['id', 'age', 'volume_mm3_label1', 'volume_mm3_label2']
    """
    table, _ = _read_table(table, "table")
    if "error" in table:
        table = table[table["error"].isna() | (table["error"] == "")].drop(columns="error")
    if "label" not in table:
        return table
    measures = [c for c in table.columns if c in MEASURES or c in ("sum",)]
    covariates = [c for c in table.columns if c not in measures and c not in ("id", "label")]
    table = table.assign(label=table["label"].astype(int))
    values = table.pivot(index="id", columns="label", values=measures)
    values.columns = [f"{measure}_label{label}" for measure, label in values.columns]
    subjects = table.drop_duplicates("id").set_index("id")[covariates]
    return subjects.join(values).reset_index()


@dataclasses.dataclass
class Comparison:
    """The result of :func:`compare`: the t-test, the groups and the correlations."""

    measure: str
    group: str
    groups: tuple[str, str]
    t: float
    p: float
    n: dict
    mean: dict
    std: dict
    effect_size: float
    correlations: pd.DataFrame
    data: pd.DataFrame = dataclasses.field(repr=False)
    normalize_by: str | None = None

    def to_dict(self) -> dict:
        """The numbers, JSON-ready (what ``bmia cohort compare --json`` prints)."""
        return {
            "measure": self.measure,
            "group": self.group,
            "normalize_by": self.normalize_by,
            "t": self.t,
            "p": self.p,
            "n": self.n,
            "mean": self.mean,
            "std": self.std,
            "effect_size": self.effect_size,
        }

    def plot(self, *, path=None):
        """Box plot of the measure by group, and the measure against the normaliser (a Figure)."""
        from .plot import group_boxplot

        return group_boxplot(self.data, self.label(), self.group, scatter_x=self.normalize_by,
                             scatter_y=self.measure, path=path,
                             title=f"{self.label()} by {self.group}: t = {self.t:.2f}, p = {self.p:.3g}")

    def label(self) -> str:
        return f"{self.measure} / {self.normalize_by}" if self.normalize_by else self.measure


def compare(table, measure: str, group: str, normalize_by: str | None = None, *, equal_var: bool = True):
    """Two-sample t-test of ``measure`` between the two groups of ``group``.

    Parameters
    ----------
    table : pandas.DataFrame or str
        One row per subject (or the long table of :func:`measure`, which is
        made wide first: ``volume_mm3_label1``, ...), or a CSV path/URL.
    measure : str
        A numeric column.
    group : str
        A column with exactly two values (e.g. ``sex``, ``group``).
    normalize_by : str, optional
        Divide the measure by this numeric column first (brain volume by skull
        volume).
    equal_var : bool
        As scipy: Student's test (True) or Welch's (False).

    Returns
    -------
    Comparison
        ``t`` and ``p`` equal to ``scipy.stats.ttest_ind``; ``n``, ``mean``
        and ``std`` per group; ``effect_size`` (Cohen's d, pooled standard
        deviation); ``correlations`` (Pearson, numeric columns).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"v": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "g": ["a", "a", "a", "b", "b", "b"]})
    >>> result = compare(t, "v", "g")
    >>> round(result.t, 4), result.n
    (-3.6742, {'a': 3, 'b': 3})
    """
    name = table if isinstance(table, str) else "table"
    table = wide(table)
    for column in (measure, group) + ((normalize_by,) if normalize_by else ()):
        if column not in table.columns:
            raise BadInputError(name, f"no column {column!r} (columns: {list(table.columns)})")
    for column in (measure,) + ((normalize_by,) if normalize_by else ()):
        if not pd.api.types.is_numeric_dtype(table[column]):
            raise BadInputError(name, f"column {column!r} is not numeric (dtype {table[column].dtype})")
    groups = sorted(table[group].dropna().astype(str).unique())
    if len(groups) != 2:
        raise BadInputError(name, f"column {group!r} must hold exactly two groups, found {len(groups)}: {groups}")
    values = table[measure].astype(float)
    if normalize_by:
        values = values / table[normalize_by].astype(float)
    label = f"{measure} / {normalize_by}" if normalize_by else measure
    data = pd.DataFrame({label: values, group: table[group].astype(str)})
    if "id" in table:
        data.insert(0, "id", table["id"])
    if normalize_by:
        data[measure] = table[measure].astype(float)
        data[normalize_by] = table[normalize_by].astype(float)
    data = data.dropna()
    a, b = (data.loc[data[group] == g, label].to_numpy() for g in groups)
    if min(len(a), len(b)) < 2:
        raise BadInputError(name, f"each group of {group!r} needs two subjects or more, got {len(a)} and {len(b)}")
    test = scipy.stats.ttest_ind(a, b, equal_var=equal_var)
    pooled = np.sqrt(((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1)) / (len(a) + len(b) - 2))
    numeric = table.select_dtypes("number")
    return Comparison(
        measure=measure, group=group, groups=tuple(groups), t=float(test.statistic), p=float(test.pvalue),
        n={groups[0]: len(a), groups[1]: len(b)},
        mean={groups[0]: float(a.mean()), groups[1]: float(b.mean())},
        std={groups[0]: float(a.std(ddof=1)), groups[1]: float(b.std(ddof=1))},
        effect_size=float((a.mean() - b.mean()) / pooled) if pooled > 0 else float("nan"),
        correlations=numeric.corr(), data=data, normalize_by=normalize_by,
    )
