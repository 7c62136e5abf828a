"""How one request ended, as the upstream client reports it and the health recorder counts it."""

from typing import Literal

type Outcome = Literal["ok", "error", "timeout", "throttled"]
