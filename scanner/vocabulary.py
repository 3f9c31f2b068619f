"""The findings contract's closed vocabularies: rule and host statuses, severities.

A leaf, so readers that only need the words (the history questions, the trend page, the
gate) do not load the findings module's schema and decision machinery to get them.
"""

RULE_STATUSES = ("pass", "fail", "error", "not_applicable", "waived", "manual")
HOST_STATUSES = ("scanned", "unreachable", "auth_failed", "hostkey_mismatch", "timeout", "error",
                 "interrupted", "not_started")
SEVERITIES = ("critical", "high", "medium", "low", "info")  # most severe first
SEVERITY_WEIGHT = {"critical": 10, "high": 5, "medium": 3, "low": 1, "info": 0}
