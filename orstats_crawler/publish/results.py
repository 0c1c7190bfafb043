"""The words of a check's result, and how many offenders a message names: one vocabulary for the
gate's modules (quality.py and the quality_* modules it calls), kept apart so they need not import
each other."""

PASS, FLAG, FAIL, SKIP = "pass", "flag", "fail", "skip"
RESULTS = (PASS, FLAG, FAIL, SKIP)
LISTED = 5  # how many offenders a message names
