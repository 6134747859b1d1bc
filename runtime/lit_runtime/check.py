"""`python -m lit_runtime.check`: run the function's init (config, hooks, model, warm-up) and exit.

`lit build` runs this inside the new image, so a model that fails to load fails the build
instead of the first request.
"""

from __future__ import annotations

import sys

from .app import App
from .errors import ModelError, ServiceError
from .settings import ConfigError


def main() -> int:
    try:
        App.start()
    except (ConfigError, ModelError, ServiceError) as exc:
        print("lit-check: " + " ".join(str(exc).split()), file=sys.stderr)
        return 3
    except Exception as exc:  # the user's initialize() or warm-up failed
        print("lit-check: init failed: " + " ".join(f"{type(exc).__name__}: {exc}".split()), file=sys.stderr)
        return 4
    return 0


if __name__ == "__main__":
    sys.exit(main())
