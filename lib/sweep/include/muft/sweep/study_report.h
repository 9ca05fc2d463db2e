#pragma once
/// \file study_report.h
/// The report of a staged experiment (spec.h, select_seeds): every claim of the paper
/// (arXiv 2605.10468) that the experiment can test gets an estimate, the interval that decides
/// it and a verdict — reproduced, not reproduced, or inconclusive when the interval allows both.
/// Only the reported seeds enter a table (the rates were chosen on the selection seeds); within a
/// seed every method saw the same batches, so gaps between methods are paired differences over
/// seeds (Student-t), and the per-task effects are pooled by DerSimonian–Laird with the
/// Hartung–Knapp–Sidik–Jonkman interval (meta.h). Diverged and collapsed runs are counted by
/// name and never averaged in; a seed missing from one method of a contrast is left out of that
/// contrast, and the report says so.

#include <string>
#include <vector>

#include "muft/sweep/collect.h"
#include "muft/sweep/grid.h"
#include "muft/sweep/spec.h"

namespace muft::sweep {

/// One claim tested on one scope.
struct Verdict {
  std::string claim;     ///< e.g. "mismatch penalty (Full FT)"
  std::string scope;     ///< e.g. "Muon-pretrained, pooled over 4 tasks"
  std::string quantity;  ///< what the numbers measure and their sign convention
  double estimate = 0;
  double low = 0, high = 0;  ///< the deciding interval (95 %)
  std::string interval;      ///< which interval: "HKSJ", "paired t, n = 3", ...
  std::string verdict;       ///< "reproduced" | "not reproduced" | "inconclusive" | "descriptive"
  std::string note;
};

/// "reproduced" when [low, high] lies on the side the claim predicts (above 0 when
/// positive_supports, below 0 otherwise), "not reproduced" when it lies on the other side,
/// "inconclusive" when it contains 0 or is not finite.
std::string decide(double low, double high, bool positive_supports);

/// The Markdown report of a staged spec, and its verdicts (also returned for a CSV). `runs` are
/// the collected runs of expand_grid(spec, outcomes); `selections` = lr_selections(spec, ...).
std::string staged_report(const ExperimentSpec& spec, const std::vector<CollectedRun>& runs,
                          const std::vector<LrSelection>& selections,
                          std::vector<Verdict>* verdicts);

/// The verdicts as CSV: claim,scope,quantity,estimate,low,high,interval,verdict,note.
std::string verdicts_csv(const std::vector<Verdict>& verdicts);

/// True when some study of the spec is staged (select_seeds or lr_from).
bool is_staged(const ExperimentSpec& spec);

}  // namespace muft::sweep
