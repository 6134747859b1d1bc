"""Errors the runtime answers with, instead of falling over."""

from __future__ import annotations


class InputError(Exception):
    """The request is wrong (client error). HTTP events answer `status`; direct invokes raise it."""

    status = 400

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status


class ModelError(Exception):
    """The model could not be found or loaded at init."""


class ServiceError(Exception):
    """The user's service.py is wrong (missing file, bad hook signature, error in initialize)."""
