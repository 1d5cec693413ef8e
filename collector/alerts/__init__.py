"""Alerts: rules over the stored signals, evaluated after each collection and on demand,
replayable over history, delivered once.

Pure modules (no I/O): :mod:`~collector.alerts.rules` (what a rule says, parsed and checked),
:mod:`~collector.alerts.evaluate` (a rule over a series: states and episodes),
:mod:`~collector.alerts.robust` (robust z-scores for ``anomaly:`` rules) and
:mod:`~collector.alerts.message` (each format's payload, escaped). The I/O edge:
:mod:`~collector.alerts.config` (the typed settings), :mod:`~collector.alerts.signals` (the signal
registry, reading the store), :mod:`~collector.alerts.deliver` (one message through the report
delivery code) and :mod:`~collector.alerts.run` (evaluate, notify, replay, the scheduler's job).
"""
