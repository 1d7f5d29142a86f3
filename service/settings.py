"""The one settings class (env prefix KANSERVE_); read once and passed into create_app."""
import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KANSERVE_", case_sensitive=False, extra="ignore")

    model_repository: Path = Path("model_repository")
    provider: Literal["auto", "cpu", "cuda", "tensorrt"] = "auto"
    intra_op_threads: int | None = Field(None, ge=1, description="per session; default splits cores between models")
    max_batch_size: int = Field(256, ge=1, le=4096)
    max_queue_delay_us: int = Field(500, ge=0, le=1_000_000, description="0 disables dynamic batching")
    max_queue: int = Field(1024, ge=1, description="pending images per model before 503")
    max_body_bytes: int = Field(8 * 1024 * 1024, ge=1024)
    inline_budget_us: int = Field(5000, ge=0, le=100_000, description="run a lone request on the event loop when "
                                  "its estimated compute is at most this (0: always hand off to the batcher)")
    decode_threads: int = Field(2, ge=1, le=64, description="threads that parse large bodies and decode images")
    max_decode_waiting: int = Field(64, ge=0, description="decode jobs that may wait for a thread before 503")
    header_timeout_s: float = Field(10.0, gt=0, description="a client must send its request headers within this")
    body_timeout_s: float = Field(30.0, gt=0, description="and its whole body within this after the headers")
    access_log: bool = True
    compare_max_s: float = Field(10.0, gt=0, le=600, description="wall-time cap of one /v1/compare, warm-up included")
    api_key: SecretStr | None = None
    require_cuda: bool = False
    shutdown_timeout_s: float = Field(10.0, ge=0)
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    log_level: Literal["debug", "info", "warning", "error"] = "info"


def available_cores() -> int:
    """Cores this process may run on (cgroup/affinity aware where the OS tells us)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1
