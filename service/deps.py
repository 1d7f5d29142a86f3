"""Typed FastAPI dependencies: handlers declare what they need instead of digging in request.app.state."""
from typing import Annotated

from fastapi import Depends, Request

from service.core import Service


async def _service(request: Request) -> Service:  # async: FastAPI runs plain `def` dependencies in a thread
    return request.app.state.service


ServiceDep = Annotated[Service, Depends(_service)]
