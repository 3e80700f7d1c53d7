"""Extract: payloads from the Synth API or from saved result files."""

from etl.extract.api import SynthClient, job_path_segment, results_path
from etl.extract.files import iter_files, read_payloads
from etl.extract.records import RawPayload

__all__ = [
    "RawPayload",
    "SynthClient",
    "iter_files",
    "job_path_segment",
    "read_payloads",
    "results_path",
]
