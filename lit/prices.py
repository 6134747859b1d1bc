"""Lambda's prices, in one table: us-east-1 list prices in USD, first duration tier.

Taken from AWS's public price page (aws.amazon.com/lambda/pricing); unchanged from 2022 through
the last check, 2026-11. Other regions and the volume tiers differ: the figures are estimates.
"""

from __future__ import annotations

PRICES_AS_OF = "2026-11"
HOURS_PER_MONTH = 730
# on-demand duration, per GB-second
GB_SECOND = {"x86_64": 0.0000166667, "arm64": 0.0000133334}
REQUEST = 0.20 / 1_000_000
# provisioned concurrency: per GB-second kept initialized, and the (lower) duration price of the
# requests it serves
PROVISIONED_GB_SECOND = {"x86_64": 0.0000041667, "arm64": 0.0000033334}
PROVISIONED_DURATION_GB_SECOND = {"x86_64": 0.0000097222, "arm64": 0.0000077778}
# SnapStart for Python (and .NET): the snapshot's cache, per GB-second of the function's memory for
# as long as the version is active (at least SNAPSTART_CACHE_MIN_S per version), and a charge per GB
# restored, each time an environment is restored from it. aws.amazon.com/lambda/pricing, "Lambda
# SnapStart" (us-east-1; the same figures for x86_64 and arm64); the 3-hour minimum is stated in the
# developer guide, "Improving startup performance with Lambda SnapStart", section "SnapStart pricing".
SNAPSTART_CACHE_GB_SECOND = 0.0000015046
SNAPSTART_RESTORE_GB = 0.0001397998
SNAPSTART_CACHE_MIN_S = 3 * 3600


def provisioned_monthly(environments: int, memory_mb: int, architecture: str) -> float:
    """What keeping `environments` initialized costs a month, before any request is served."""
    seconds = HOURS_PER_MONTH * 3600
    return environments * memory_mb / 1024 * seconds * PROVISIONED_GB_SECOND[architecture]


def snapstart_cache(memory_mb: int, active_s: float) -> float:
    """The cache charge of one SnapStart version active for `active_s` seconds (3 hours at least)."""
    return memory_mb / 1024 * max(active_s, SNAPSTART_CACHE_MIN_S) * SNAPSTART_CACHE_GB_SECOND


def snapstart_restores(memory_mb: int, restores: float) -> float:
    """The restore charge of `restores` environments restored from a snapshot of `memory_mb`."""
    return restores * memory_mb / 1024 * SNAPSTART_RESTORE_GB
