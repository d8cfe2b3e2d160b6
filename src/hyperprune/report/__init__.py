"""Reports on searches: figures (spectra, early signals vs final perplexity, bracket, cost), tables,
and one self-contained HTML page. Entry points: `write_report(run_dir, out_dir=None)`, and
`write_comparison(run_a, run_b, out_dir=None)` for two searches side by side.
"""

from hyperprune.report.build import ReportFiles, write_report
from hyperprune.report.compare import ComparisonFiles, write_comparison
from hyperprune.report.rank_correlation import RankCorrelation, rank_correlation

__all__ = [
           "ComparisonFiles",
           "RankCorrelation",
           "ReportFiles",
           "rank_correlation",
           "write_comparison",
           "write_report",
]
