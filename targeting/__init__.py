"""Targeting employment conditions to the labour market (issue 15).

Before a municipality writes a contract it asks which planned procurements can carry an
employment condition, for whom, and how many hires the local labour market can supply by the
deadline. The advisor answers from what the service already holds:

- :mod:`targeting.plan` — a procurement plan (CSV or API body) as :class:`PlanLine` objects;
- :mod:`targeting.history` — the world cut to what was known on a day (:class:`History`);
- :mod:`targeting.occupation_mix` — CPV division -> occupation mix, learned from the vacancies
  suppliers opened under past contracts, with a documented fallback table;
- :mod:`targeting.fill_rates` — time to fill and fill rates by occupation and area;
- :mod:`targeting.supply` — local supply: the matching engine run on hypothetical vacancies;
- :mod:`targeting.advisor` — the recommended condition, its expected fulfilment and impact;
- :mod:`targeting.backtest` — the advisor replayed on past contracts, as of their start;
- :mod:`targeting.report` — the table, charts and Markdown report of ``kohtaanto target``.

Every function takes the day it advises on and reads nothing dated after it, so the live
advisor and the backtest run the same code.
"""
