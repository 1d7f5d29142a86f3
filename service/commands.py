"""`kanserve` subcommands of the service package (registered by kanserve/cli.py). No torch is imported here."""


def register(subparsers) -> None:
    """Add this package's subcommands to the `kanserve` parser."""
    s = subparsers.add_parser("serve", help="serve the model repository over HTTP (/v1, /v2 OIP, /metrics)")
    s.add_argument("--host", default=None, help="default: $KANSERVE_HOST, then 127.0.0.1")
    s.add_argument("--port", type=int, default=None, help="default: $KANSERVE_PORT, then 8000")
    s.add_argument("--model-repository", default=None, help="default: $KANSERVE_MODEL_REPOSITORY, then ./model_repository")
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
    import uvicorn

    from service.app import create_app
    from service.logs import configure_logging
    from service.repository import scan

    settings = load_settings(args)
    scan(settings.model_repository)  # fail fast (exit 2) when there is no usable repository at all
    configure_logging(settings.log_level)
    config = uvicorn.Config(create_app(settings), host=settings.host, port=settings.port, log_config=None,
                            access_log=False, log_level=settings.log_level, lifespan="on",
                            timeout_graceful_shutdown=settings.shutdown_timeout_s)
    server = uvicorn.Server(config)
    server.run()
    if not server.started:  # lifespan refused (e.g. KANSERVE_REQUIRE_CUDA with a CPU session)
        raise RuntimeError("server did not start; see the log above")
