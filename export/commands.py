"""`kanserve` subcommands of the export package (registered by kanserve/cli.py)."""
import sys


def cmd_export(args) -> None:
    from export.pipeline import ExportOptions, export_checkpoint
    from export.quantize import AccuracyRefused

    opts = ExportOptions(name=args.name, version=args.version, precision=args.precision, evaluate=args.evaluate,
                         data_dir=args.data_dir, threads=args.threads)
    try:
        path = export_checkpoint(args.checkpoint, args.out, opts)
    except AccuracyRefused as e:
        print(f"kanserve export: refused: {e}", file=sys.stderr)
        raise SystemExit(2) from e
    print(f"wrote {path}")


def register(subparsers) -> None:
    """Add this package's subcommands to the `kanserve` parser."""
    s = subparsers.add_parser("export", help="export a checkpoint to a checked, standard-ops ONNX model repository")
    s.add_argument("--checkpoint", required=True)
    s.add_argument("--out", default="model_repository", help="model repository directory (default: %(default)s)")
    s.add_argument("--name", default=None, help="model name (default: the checkpoint's model_name)")
    s.add_argument("--version", type=int, default=None,
                   help="model version directory (default: by precision, fp32 = 1, int8 = 2, fp16 = 3)")
    s.add_argument("--precision", choices=["fp32", "int8", "fp16"], default="fp32",
                   help="fp32; int8 (static QDQ, calibrated on 512 training images, refused with exit status 2 if "
                        "test accuracy drops more than 0.2 points below fp32); fp16 (for GPUs) (default: %(default)s)")
    s.add_argument("--evaluate", action="store_true",
                   help="re-measure test accuracy with onnxruntime on the 10,000 test images and record it")
    s.add_argument("--data-dir", default=None, help="MNIST directory (default: $KANSERVE_DATA_DIR, then ./data/mnist)")
    s.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op threads for the checks")
    s.set_defaults(func=cmd_export)
