"""Evaluations over task suites (bundled scenarios, MiniWoB++): workers, results, reports, comparisons."""
