"""Above the executor: one run split into parts, run by worker processes or CI jobs, merged.

``Shard``/``parse_shard`` cut a run into parts (``_shards``); ``run_workers`` runs every part
at once in worker processes and merges their results (``_workers``); ``merge_reports``
merges the JSON reports of CI shards into one (``_merge``).
"""

from __future__ import annotations

from mbtspec.parallel._shards import Shard, parse_shard

__all__ = ["Shard", "parse_shard"]
