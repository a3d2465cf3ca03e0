"""Employment-condition statistics and their economic impact, comparable across municipalities.

The common indicator set is defined once in ``docs/indicators.md`` and computed here the same
way for every municipality, buyer, contract and period:

- :mod:`reporting.facts` turns a world's tables into fact tables (conditions, hires,
  proposals, coaching activity) with every attribution rule applied once;
- :mod:`reporting.indicators` aggregates them into indicator tables;
- :mod:`reporting.suppression` hides small cells (1–4 people) and protects them from being
  recovered through published totals;
- :mod:`reporting.impact` values each placement for the person, the municipality and the
  state with the sourced, versioned parameters in ``reporting/parameters/``;
- :mod:`reporting.charts` draws the PNG charts.

This package reads :class:`features.world_store.WorldTables` and :mod:`matching`; the service
composes it (the ``kohtaanto stats`` command, later the statistics routes).
"""
