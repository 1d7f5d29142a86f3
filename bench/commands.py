"""`kanserve` subcommands of the bench package (registered by kanserve/cli.py)."""


def cmd_probe(args) -> None:
    from bench.probe import ProbeConfig, format_table, plot, run_probe
    from bench.timing import write_json

    headers = {}
    for h in args.header:
        key, sep, value = h.partition(":")
        if not sep or not key.strip():
            raise ValueError(f"--header wants NAME:VALUE, got {h!r}")
        headers[key.strip()] = value.strip()
    cfg = ProbeConfig(url=args.url, models=[m.strip() for m in args.models.split(",") if m.strip()],
                      requests=args.requests, concurrency=args.concurrency, batch_size=args.batch_size,
                      input=args.input, data_dir=args.data_dir, protocol=args.protocol, warmup=args.warmup,
                      seed=args.seed, timeout_s=args.timeout, headers=headers)
    report = run_probe(cfg, progress=not args.no_progress)
    print(format_table(report))
    if args.json:
        write_json(args.json, report)
        print(f"wrote {args.json}")
    if args.plot and plot(report, args.plot):
        print(f"wrote {args.plot}")


def cmd_bench(args) -> None:
    from bench.report import bench

    bench(args)


def register(subparsers) -> None:
    """Add this package's subcommands to the `kanserve` parser."""
    from kanserve.cli import DATA_DIR_HELP

    s = subparsers.add_parser("probe", help="A/B latency probe of models on a running server (v1 or OIP v2)")
    s.add_argument("--url", default="http://127.0.0.1:8000", help="server base URL")
    s.add_argument("--models", default="mlp,fasterkan",
                   help="comma-separated, each NAME or NAME:PRECISION (e.g. mlp:int8); the first is A, the others B")
    s.add_argument("--requests", type=int, default=200, help="timed requests per model (max 100000)")
    s.add_argument("--concurrency", type=int, default=1, help="concurrent client workers")
    s.add_argument("--batch-size", type=int, default=1, help="images per request")
    s.add_argument("--input", choices=["mnist", "random"], default="mnist",
                   help="MNIST test images (reports accuracy) or uniform random pixels")
    s.add_argument("--data-dir", default=None,
                   help=DATA_DIR_HELP.replace("downloaded there once and checked against the canonical checksums",
                                              "if already there; else the packaged sample of 256 test digits"))
    s.add_argument("--protocol", choices=["v1", "v2"], default="v1",
                   help="v1: /v1/models/NAME/predict; v2: Open Inference Protocol /v2/models/NAME/infer")
    s.add_argument("--warmup", type=int, default=10, help="untimed requests per model first")
    s.add_argument("--seed", type=int, default=0, help="seeds the input choice and the request order")
    s.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    s.add_argument("--header", action="append", default=[], metavar="NAME:VALUE",
                   help="extra request header, e.g. an API key (repeatable)")
    s.add_argument("--json", default=None, metavar="OUT.json", help="write the full report (with samples)")
    s.add_argument("--plot", default=None, metavar="OUT.png",
                   help="latency CDFs and histograms, titled with the latency ratio and its CI (needs matplotlib)")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_probe)

    from bench.report import add_arguments  # stdlib-only at import time

    s = subparsers.add_parser("bench", help="run every benchmark side by side -> BENCHMARKS.md, reports/*.json|png")
    add_arguments(s)
    s.set_defaults(func=cmd_bench)
