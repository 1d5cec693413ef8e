"""Exports of the store for other tools: the FOCUS cost export (:mod:`.focus`, pure mapping;
:mod:`.source`, its reads)."""
