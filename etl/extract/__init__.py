"""Extract: payloads from the Synth API or from saved result files.

The API client lives in `etl.extract.api`, which is imported only by runs that
call the API, so file syncs and read-only commands skip loading httpx.
"""

from etl.extract.files import iter_files, read_payloads
from etl.extract.records import RawPayload

__all__ = ["RawPayload", "iter_files", "read_payloads"]
