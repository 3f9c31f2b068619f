"""Placeholder: probes land here."""

PROBES = ()
