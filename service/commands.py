"""`kanserve` subcommands of the service package (registered by kanserve/cli.py). No torch is imported here."""


def register(subparsers) -> None:
    """Add this package's subcommands to the `kanserve` parser."""
    s = subparsers.add_parser("serve", help="serve the model repository over HTTP (/v1, /v2 OIP, /metrics)")
    s.add_argument("--host", default=None, help="address to listen on (default: $KANSERVE_HOST, then 127.0.0.1)")
    s.add_argument("--port", type=int, default=None, help="port to listen on (default: $KANSERVE_PORT, then 8000)")
    s.add_argument("--model-repository", default=None, help="folder of models to serve (default: "
                                                            "$KANSERVE_MODEL_REPOSITORY, then ./model_repository)")
    s.epilog = "Every other setting is an environment variable (KANSERVE_*); README.md lists them."
    s.set_defaults(func=cmd_serve)


def load_settings(args):
    """Settings from the environment, overridden by the flags given; a bad value is a ValueError (exit 2)."""
    from pydantic import ValidationError

    from service.settings import Settings

    overrides = {k: v for k, v in (("host", args.host), ("port", args.port),
                                   ("model_repository", args.model_repository)) if v is not None}
    try:
        return Settings(**overrides)
    except ValidationError as e:
        problems = "; ".join(f"KANSERVE_{'_'.join(map(str, err['loc'])).upper()}: {err['msg']}" for err in e.errors())
        raise ValueError(f"bad configuration: {problems}") from None


def cmd_serve(args) -> None:
    from kanserve.repository import scan
    from service.app import create_app
    from service.logs import configure_logging
    from service.server import serve

    settings = load_settings(args)
    configure_logging(settings.log_level)
    scan(settings.model_repository)  # fail fast (exit 2) when the repository is missing or malformed
    if not serve(create_app(settings), settings):  # lifespan refused (e.g. KANSERVE_REQUIRE_CUDA on a CPU)
        raise RuntimeError("server did not start; see the log above")
