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


def provisioned_monthly(environments: int, memory_mb: int, architecture: str) -> float:
    """What keeping `environments` initialized costs a month, before any request is served."""
    seconds = HOURS_PER_MONTH * 3600
    return environments * memory_mb / 1024 * seconds * PROVISIONED_GB_SECOND[architecture]
