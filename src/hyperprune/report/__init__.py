"""Reports on searches: figures (spectra, early signals vs final perplexity, bracket, cost), tables,
and one self-contained HTML page. Entry point: `write_report(run_dir, out_dir=None)`.
"""

from hyperprune.report.build import ReportFiles, write_report
from hyperprune.report.rank_correlation import RankCorrelation, rank_correlation
from hyperprune.report.search_results import SearchResults, load_search_results

__all__ = [
           "RankCorrelation",
           "ReportFiles",
           "SearchResults",
           "load_search_results",
           "rank_correlation",
           "write_report",
]
