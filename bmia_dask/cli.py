"""The ``bmia`` command line: a thin layer over the Python API.

One small function per subcommand; only this module prints or picks exit
codes: 0 on success, 2 on bad input (one line naming the file and the problem,
no traceback), 130 when interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import warnings

import numpy as np

from . import __version__
from .errors import BadInputError


def _print_json(obj) -> None:
    print(json.dumps(obj, indent=2, default=_json_default))


def _json_default(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _image_summary(image) -> dict:
    """Shape, geometry, dtype, chunks of an image (value range computed)."""
    from .image import geometry

    geo = geometry(image)
    low, high = (float(v) for v in _value_range(image))
    summary = {
        "dims": list(image.dims),
        "shape": list(image.shape),
        "spacing_mm": list(image.attrs["spacing"]),
        "origin_lps_mm": list(geo.origin),
        "direction": [list(row) for row in geo.direction],
        "dtype": str(image.dtype),
        "chunks": [list(c) for c in image.chunks] if image.chunks else None,
        "min": low,
        "max": high,
        "modality": image.attrs.get("modality"),
        "units": image.attrs.get("units"),
        "levels": image.attrs.get("levels", 1),
    }
    if "t" in image.dims:
        summary["t_ms"] = [float(v) for v in image["t"].values]
    return summary


def _value_range(image):
    import dask

    return dask.compute(image.data.min(), image.data.max())


def _print_summary(summary: dict, name: str = "") -> None:
    if name:
        print(name)
    for key, value in summary.items():
        if key == "direction":
            value = "[" + ", ".join("[" + ", ".join(f"{v:.6g}" for v in row) + "]" for row in value) + "]"
        elif key == "chunks" and value:
            value = " x ".join(str(c[0]) if len(set(c)) == 1 else f"{c[0]}..{c[-1]}" for c in value)
        elif isinstance(value, list) and value and isinstance(value[0], float):
            value = "(" + ", ".join(f"{v:.6g}" for v in value) + ")"
        print(f"  {key:<14} {value}")


# --- subcommands -----------------------------------------------------------


def cmd_scan(args) -> int:
    from .io.dicom_scan import scan_dicom

    table = scan_dicom(args.src, progress=not args.quiet)
    if args.json:
        _print_json({"series": table.to_dict(orient="records"), "skipped": table.attrs["skipped"]})
        return 0
    for row in table.itertuples():
        status = "ok" if row.ok else "NOT CONVERTIBLE"
        print(
            f"{row.series_number if row.series_number is not None else '-':>4}  {row.modality:<4} "
            f"{row.description!r:<28} {row.n_files:>5} files  shape {row.shape}  "
            f"spacing {tuple(round(s, 4) for s in row.spacing)} mm  {row.orientation}  [{status}]"
        )
        print(f"      uid {row.series_uid}  ({row.transfer_syntax})")
        for problem in row.problems:
            print(f"      problem: {problem}")
    return 0


def cmd_convert(args) -> int:
    from .io.convert import convert

    written = convert(
        args.src,
        args.dst,
        series_uid=args.series,
        overwrite=args.overwrite,
        keep_phi=args.keep_phi,
        levels=args.levels,
        progress=not args.quiet,
    )
    if args.json:
        _print_json({"written": written})
    else:
        for url in written:
            print(url)
    return 0


def cmd_info(args) -> int:
    from .io.zarr_store import open_image
    from .progress import progress_bar

    image = open_image(args.url, level=args.level)
    with progress_bar("value range", enabled=not args.quiet):
        summary = _image_summary(image)
    if args.json:
        _print_json(summary)
    else:
        _print_summary(summary, args.url)
    return 0


def cmd_phantom(args) -> int:
    from . import phantoms

    if args.kind == "cohort":
        written = phantoms.write_cohort(args.dst, n=args.n, seed=args.seed)
        if args.json:
            _print_json({"manifest": written["manifest"], "subjects": args.n})
        else:
            print(f"wrote {args.n} subjects (image and label stores) and {written['manifest']}")
        return 0
    if args.kind == "pair":
        truth = phantoms.write_pair(args.dst)
        if args.json:
            _print_json(truth)
        else:
            print(f"wrote {truth['fixed']}, {truth['moving']} and the transform between them (truth.json)")
        return 0
    if args.kind == "ct":
        truth = phantoms.write_ct(args.dst, shape=tuple(args.shape or (40, 96, 96)), seed=args.seed)
    else:
        truth = phantoms.write_cine(args.dst, n_frames=args.frames, ef=args.ef, snr=args.snr, bias=args.bias,
                                    direction=phantoms.rotation(*args.oblique), seed=args.seed)
    report = {k: v for k, v in truth.items() if k not in ("values", "files")}
    report["n_files"] = len(truth["files"])
    report["folder"] = args.dst
    if args.json:
        _print_json(report)
    else:
        print(f"wrote {report['n_files']} DICOM files of a {args.kind} phantom to {args.dst}")
    return 0


def cmd_ef(args) -> int:
    from .cardiac import ejection_fraction

    result = ejection_fraction(args.src, seed_mm=args.seed_mm, threshold=args.threshold, progress=not args.quiet)
    report = result.to_dict()
    if args.out:
        report["written"] = result.save(args.out)
    if args.json:
        _print_json(report)
        return 0
    print(f"{args.src}: EF {result.ef:.1%} ({result.category})  EDV {result.edv_ml:.1f} mL (frame {result.ed_index})"
          f"  ESV {result.esv_ml:.1f} mL (frame {result.es_index})")
    for url in report.get("written", []):
        print(f"  wrote {url}")
    return 0


def cmd_register(args) -> int:
    from .io import load_image
    from .registration import register

    moving, fixed = load_image(args.moving)[0], load_image(args.fixed)[0]
    try:
        result = register(moving, fixed, transform=args.transform, cost=args.cost, progress=not args.quiet)
    except BadInputError:
        raise
    except ValueError as error:  # the pair itself is unusable: no overlap, 2D against 3D, ...
        raise BadInputError(args.moving, f"cannot be registered onto {args.fixed}: {error}") from None
    report = {**result.to_dict(), "out": result.save(args.out)}
    if args.apply:
        from .io.zarr_store import to_zarr

        report["applied"] = to_zarr(result.apply(), args.apply, overwrite=args.overwrite, progress=not args.quiet)
    if args.plot:
        result.plot(args.plot)
        report["plot"] = args.plot
    if args.json:
        _print_json(report)
        return 0
    print(f"{args.transform} ({args.cost}): {report['initial_cost_value']:.4g} -> {report['cost_value']:.4g}, "
          f"rotation {report['rotation_degrees']:.2f} deg, translation "
          + "(" + ", ".join(f"{v:.2f}" for v in report["translation_mm"]) + ") mm")
    for key in ("out", "applied", "plot"):
        if key in report:
            print(f"  wrote {report[key]}")
    return 0


def cmd_cohort_measure(args) -> int:
    from .cohort import measure

    table = measure(args.manifest, out=args.out, progress=not args.quiet)
    failed = table[table["error"] != ""]
    if args.json:
        _print_json({"out": args.out, "subjects": int(table["id"].nunique()), "rows": len(table),
                     "failed": failed[["id", "error"]].to_dict(orient="records")})
        return 0
    print(f"{table['id'].nunique()} subjects, {len(table)} rows -> {args.out}")
    for row in failed.itertuples():
        print(f"  failed: {row.id}: {row.error}")
    return 0


def cmd_cohort_compare(args) -> int:
    from .cohort import compare

    result = compare(args.table, args.measure, args.group, normalize_by=args.normalize_by, equal_var=not args.welch)
    report = result.to_dict()
    if args.out:
        result.plot(path=args.out)
        report["figure"] = args.out
    if args.json:
        _print_json(report)
        return 0
    a, b = result.groups
    print(f"{result.label()} by {args.group}: t = {result.t:.3f}, p = {result.p:.3g}, "
          f"Cohen's d = {result.effect_size:.2f}")
    for g in (a, b):
        print(f"  {g}: n = {result.n[g]}, mean = {result.mean[g]:.6g}, sd = {result.std[g]:.3g}")
    if args.out:
        print(f"  wrote {report['figure']}")
    return 0


def cmd_demo(args) -> int:
    from .demo import run_demo

    report = run_demo(args.out, progress=not args.quiet, echo=None if args.json else print)
    if args.json:
        _print_json(report)
    return 0


# --- plumbing --------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bmia", description="Biomedical image analysis at any scale: DICOM -> OME-Zarr -> analysis."
    )
    parser.add_argument("--version", action="version", version=f"bmia_dask {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--scheduler", metavar="ADDRESS", help="address of a running dask.distributed scheduler")
    common.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    common.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("demo", parents=[common], help="run every stage on built-in phantoms (no data needed)")
    p.add_argument("--out", default="bmia-demo", help="output folder (default: ./bmia-demo)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("scan", parents=[common], help="list the DICOM series under a folder or URL")
    p.add_argument("src", help="folder, file or fsspec URL")
    p.set_defaults(func=cmd_scan)

    p = sub.add_parser("convert", parents=[common], help="convert every DICOM series to an OME-Zarr store")
    p.add_argument("src", help="folder, file or fsspec URL with DICOM files")
    p.add_argument("dst", help="folder or fsspec URL for the stores")
    p.add_argument("--series", metavar="UID", help="convert only this series")
    p.add_argument("--overwrite", action="store_true", help="replace existing stores")
    p.add_argument("--keep-phi", action="store_true", help="also store patient-identifying attributes")
    p.add_argument("--levels", type=int, default=1, metavar="N",
                   help="multiscale levels, each halved in-plane (and through-plane when slices are thin)")
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("info", parents=[common], help="shape, geometry, dtype, chunks and value range of a store")
    p.add_argument("url", help="store path or URL")
    p.add_argument("--level", type=int, default=0, metavar="K", help="multiscale level (default 0: full resolution)")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("ef", parents=[common], help="LV volumes and ejection fraction of a short-axis cine")
    p.add_argument("src", help="DICOM folder, store or URL of a (t, z, y, x) cine")
    p.add_argument("--out", metavar="DIR", help="write ef.json, volumes.csv and figures (PNG) there")
    p.add_argument("--seed-mm", type=float, nargs=3, metavar=("Z", "Y", "X"),
                   help="a point in the LV blood pool (image coords, mm); default: found automatically")
    p.add_argument("--threshold", type=float, help="blood-pool threshold (default: chosen per frame)")
    p.set_defaults(func=cmd_ef)

    p = sub.add_parser("cohort", help="measure a cohort on a cluster; compare groups")
    cohort = p.add_subparsers(dest="cohort_command", required=True, metavar="STEP")
    q = cohort.add_parser("measure", parents=[common], help="one row per subject and label, subject-parallel")
    q.add_argument("manifest", help="CSV with id, image (store URL), optional labels (store URL), covariates")
    q.add_argument("--out", required=True, metavar="TABLE", help="CSV to write (re-running resumes it)")
    q.set_defaults(func=cmd_cohort_measure)
    q = cohort.add_parser("compare", parents=[common], help="two-sample t-test of a measure between two groups")
    q.add_argument("table", help="CSV from 'bmia cohort measure' (or one row per subject)")
    q.add_argument("--measure", required=True, help="numeric column, e.g. volume_mm3_label1")
    q.add_argument("--group", required=True, help="column with two groups, e.g. group or sex")
    q.add_argument("--normalize-by", metavar="COL", help="divide the measure by this column first")
    q.add_argument("--welch", action="store_true", help="Welch's test (unequal variances)")
    q.add_argument("--out", metavar="PNG", help="write the box plot and scatter there")
    q.set_defaults(func=cmd_cohort_compare)

    p = sub.add_parser("register", parents=[common], help="align MOVING onto FIXED in patient space (LPS mm)")
    p.add_argument("moving", help="store or DICOM folder/URL of the image to move")
    p.add_argument("fixed", help="store or DICOM folder/URL of the reference image")
    p.add_argument("--out", required=True, metavar="T.json", help="write the 4x4 transform (moving -> fixed) there")
    p.add_argument("--transform", choices=["translation", "rigid", "affine"], default="rigid")
    p.add_argument("--cost", choices=["mae", "ncc", "iou", "mi"], default="mae",
                   help="mae: same modality; ncc: other scaling; iou: masks; mi: other modalities")
    p.add_argument("--apply", metavar="STORE", help="also resample MOVING onto FIXED's grid into this store")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --apply store")
    p.add_argument("--plot", metavar="PNG", help="checkerboards before and after, and the cost")
    p.set_defaults(func=cmd_register)

    p = sub.add_parser("phantom", parents=[common],
                       help="write a synthetic DICOM series, cohort or registration pair with known truth")
    p.add_argument("kind", choices=["ct", "cine", "cohort", "pair"])
    p.add_argument("dst", help="folder to write to")
    p.add_argument("--n", type=int, default=40, help="cohort: number of subjects")
    p.add_argument("--shape", type=int, nargs=3, metavar=("Z", "Y", "X"), help="ct: volume shape")
    p.add_argument("--frames", type=int, default=20, help="cine: number of frames")
    p.add_argument("--ef", type=float, default=0.6, help="cine: ejection fraction")
    p.add_argument("--snr", type=float, default=25.0, help="cine: blood-to-myocardium contrast over noise")
    p.add_argument("--bias", type=float, default=0.3, help="cine: coil bias amplitude (0: none)")
    p.add_argument("--oblique", type=float, nargs=3, default=(0.0, 0.0, 0.0), metavar=("AX", "AY", "AZ"),
                   help="cine: stack orientation, degrees about the L, P and S axes")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_phantom)
    return parser


@contextlib.contextmanager
def _scheduler(address):
    if not address:
        yield
        return
    from distributed import Client

    try:
        client = Client(address, timeout="5s")
    except OSError as error:
        raise BadInputError(address, f"cannot reach the dask scheduler ({error})") from None
    with client:
        yield


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"bmia: warning: {message}", file=sys.stderr)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            with _scheduler(args.scheduler):
                return args.func(args)
    except BadInputError as error:
        for failure in getattr(error, "failures", [error]):
            print(f"bmia: error: {failure}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bmia: interrupted", file=sys.stderr)
        return 130
