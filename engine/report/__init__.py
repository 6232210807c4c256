"""Reports of a grid or a single run: collect (read the run folders), summary (the figures, with 95%
intervals), tables (the same figures as plain tables, for the console and report.md), markdown, plots
(PNG, the [report] extra). Nothing here recomputes a day's metrics: they come from metrics.csv."""
