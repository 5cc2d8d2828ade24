"""Insight: what students need and how well each office serves them (dashboard queries, question clusters)."""
