"""`kanserve` subcommands of the export package (registered by kanserve/cli.py)."""


def cmd_export(args) -> None:
    from export.pipeline import ExportOptions, export_checkpoint

    opts = ExportOptions(name=args.name, version=args.version, precision=args.precision, evaluate=args.evaluate,
                         data_dir=args.data_dir, threads=args.threads, progress=not args.no_progress)
    path = export_checkpoint(args.checkpoint, args.out, opts)
    print(f"wrote {path}")


def register(subparsers) -> None:
    """Add this package's subcommands to the `kanserve` parser."""
    from kanserve.cli import DATA_DIR_HELP

    s = subparsers.add_parser("export", help="export a checkpoint to a checked, standard-ops ONNX model repository")
    s.add_argument("--checkpoint", required=True, help="a checkpoint written by `kanserve train` (e.g. "
                                                       "checkpoints/fasterkan.pt)")
    s.add_argument("--out", default="model_repository", help="model repository folder to write into")
    s.add_argument("--name", default=None, help="model name (default: the checkpoint's model_name)")
    s.add_argument("--version", type=int, default=1, help="version folder NAME/VERSION/ (Triton layout)")
    s.add_argument("--precision", choices=["fp32", "fp16"], default="fp32",
                   help="fp16 halves the weights and activations inside the graph; inputs and outputs stay float32")
    s.add_argument("--evaluate", action="store_true",
                   help="re-measure test accuracy with onnxruntime on the 10,000 test images and record it "
                        "(default: record the checkpoint's own test accuracy)")
    s.add_argument("--data-dir", default=None, help=DATA_DIR_HELP)
    s.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op threads for the checks")
    s.add_argument("--no-progress", action="store_true", help="no progress bar during --evaluate")
    s.set_defaults(func=cmd_export)
