"""Regime scenarios: the situations that historically ended an extreme in industry differentiation.

Each check is pure (data and ``as_of`` in, a typed :class:`~jobs.regimes.types.ScenarioResult` out);
``inputs`` fetches and stores what they read, ``service`` assembles them from the store.
"""
