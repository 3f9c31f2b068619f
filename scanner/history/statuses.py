"""Which stored result statuses count as what, for the writer and the readers alike (a
leaf: the read path imports it without the writer's SQLAlchemy)."""

FAILING = ("fail", "waived")  # a failure, waived or not: it opens a lifecycle episode
JUDGED = ("pass", "fail", "waived", "error")  # what a pass rate is taken over
