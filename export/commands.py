"""`kanserve` subcommands of the export package (registered by kanserve/cli.py)."""
import sys


def cmd_export(args) -> None:
    from export.pipeline import ExportOptions, export_checkpoint
    from export.quantize import AccuracyRefused

    opts = ExportOptions(name=args.name, version=args.version, precision=args.precision, evaluate=args.evaluate,
                         data_dir=args.data_dir, threads=args.threads, functions=args.functions,
                         progress=not args.no_progress)
    try:
        path = export_checkpoint(args.checkpoint, args.out, opts)
    except AccuracyRefused as e:
        print(f"kanserve export: refused: {e}", file=sys.stderr)
        raise SystemExit(2) from e
    print(f"wrote {path}")


def cmd_export_functions(args) -> None:
    from export.functions import export_functions

    for path in export_functions(args.checkpoint, args.out, args.name, args.version, args.data_dir, args.threads):
        print(f"wrote {path}")


def cmd_functions(args) -> None:
    from export.functions_figure import draw_functions, load_functions

    functions, version = load_functions(args.model_repository, args.model, args.model_version)
    print(f"wrote {draw_functions(functions, f'{args.model}/{version}', args.out, args.top, args.points)}")


def register(subparsers) -> None:
    """Add this package's subcommands to the `kanserve` parser."""
    from kanserve.cli import DATA_DIR_HELP

    s = subparsers.add_parser("export", help="export a checkpoint to a checked, standard-ops ONNX model repository")
    s.add_argument("--checkpoint", required=True, help="a checkpoint written by `kanserve train` (e.g. "
                                                       "checkpoints/fasterkan.pt)")
    s.add_argument("--out", default="model_repository", help="model repository folder to write into")
    s.add_argument("--name", default=None, help="model name (default: the checkpoint's model_name)")
    s.add_argument("--version", type=int, default=None,
                   help="model version directory (default: by precision, fp32 = 1, int8 = 2, fp16 = 3)")
    s.add_argument("--precision", choices=["fp32", "int8", "fp16"], default="fp32",
                   help="fp32; int8 (static QDQ, calibrated on 512 training images, refused with exit status 2 if "
                        "test accuracy drops more than 0.2 points below fp32); fp16 (for GPUs) (default: %(default)s)")
    s.add_argument("--evaluate", action="store_true",
                   help="re-measure test accuracy with onnxruntime on the 10,000 test images and record it "
                        "(default: record the checkpoint's own test accuracy)")
    s.add_argument("--data-dir", default=None, help=DATA_DIR_HELP)
    s.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op threads for the checks")
    s.add_argument("--no-functions", dest="functions", action="store_false",
                   help="skip functions.json and explain.onnx (written by default for fp32 FasterKAN models)")
    s.add_argument("--no-progress", action="store_true", help="no progress bar during --evaluate")
    s.set_defaults(func=cmd_export)

    s = subparsers.add_parser("export-functions", help="add a FasterKAN model's learned functions (functions.json) "
                              "and explain graph (explain.onnx) to its exported fp32 version, checked against it")
    s.add_argument("--checkpoint", required=True, help="the checkpoint the version was exported from (e.g. "
                                                       "checkpoints/fasterkan.pt)")
    s.add_argument("--out", default="model_repository", help="model repository directory (default: %(default)s)")
    s.add_argument("--name", default=None, help="model name (default: the checkpoint's model_name)")
    s.add_argument("--version", type=int, default=1, help="the exported fp32 version (default: %(default)s)")
    s.add_argument("--data-dir", default=None, help=DATA_DIR_HELP)
    s.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op threads (default: %(default)s)")
    s.set_defaults(func=cmd_export_functions)

    s = subparsers.add_parser("functions",
                              help="draw a KAN model's learned functions (its functions.json) as a grid of "
                              "small plots: one row per layer, its most important edges first (matplotlib)")
    s.add_argument("--model", required=True, help="a KAN model of the repository, e.g. fasterkan")
    s.add_argument("--model-version", default=None, help="default: the latest fp32 version with functions")
    s.add_argument("--model-repository", default="model_repository", help="(default: %(default)s)")
    s.add_argument("--top", type=int, default=8, help="edges per layer (default: %(default)s)")
    s.add_argument("--points", type=int, default=96, help="samples per curve (default: %(default)s)")
    s.add_argument("--out", default="functions.png", help="the PNG to write (default: %(default)s)")
    s.set_defaults(func=cmd_functions)
