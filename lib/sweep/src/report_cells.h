#pragma once
// Private to the sweep reports: the reported runs of a staged experiment indexed by (study,
// pretraining optimizer, method, rank), paired contrasts over seeds, and small formatting helpers.

#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "muft/stats/summary.h"
#include "muft/sweep/collect.h"
#include "muft/sweep/spec.h"

namespace muft::sweep::report {

/// "nan" for NaN, else the shortest round-trip form.
std::string num(double x);
/// "mean ± std" with 4 decimals, "—" when empty.
std::string pm(const stats::Summary& s);

/// The healthy reported runs of one (study, pretrained model, method, rank), by seed.
struct Cell {
  struct Values {
    double new_metric;  ///< normalized val ppl (language) or val accuracy (digits)
    double old_metric;  ///< the same on the old task
    double new_loss;    ///< final val loss
    double start_loss;  ///< step-0 val loss
    double l2;          ///< L2 distance to the pretrained weights (NaN without analysis)
  };
  std::map<long, Values> seeds;
  double lr = 0;
  std::size_t runs = 0, diverged = 0, collapsed = 0, unfinished = 0;
  /// Summary of one field over the seeds (n = 0 when there are none).
  stats::Summary summary(double Values::*field) const;
  /// "—", or e.g. "1 diverged, 2 unfinished".
  std::string excluded_text() const;
};

/// A paired contrast over seeds.
struct Contrast {
  stats::Summary s;                ///< of the per-seed differences (n = 0: none)
  std::vector<long> seeds;         ///< the seeds it used
  std::size_t dropped = 0;         ///< seeds present in some cell but not all
  std::string seeds_text() const;  ///< e.g. "3" or "2 (1 dropped)"
};

/// sign·(a − b) per seed present in both.
Contrast contrast(const Cell& a, const Cell& b, double Cell::Values::*field, double sign);
/// sign·((fx − fp) − (lx − lp)) per seed present in all four.
Contrast reduction(const Cell& fx, const Cell& fp, const Cell& lx, const Cell& lp,
                   double Cell::Values::*field, double sign);
/// log(a / b) per seed with both finite and positive.
Contrast log_ratio(const Cell& a, const Cell& b, double Cell::Values::*field);
/// Per seed present at every rank: the least-squares slope of field over log2(rank).
Contrast rank_slope(const std::vector<const Cell*>& cells, const std::vector<long>& ranks,
                    double Cell::Values::*field);

/// The reported runs of a staged experiment.
class Cells {
 public:
  explicit Cells(const std::vector<CollectedRun>& runs);
  const Cell* find(const std::string& study, const std::string& pretrain, const std::string& method,
                   long rank) const;
  /// Mean step-0 validation loss of the reported runs of (study, pretrained model).
  double starting_loss(const std::string& study, const std::string& pretrain) const;
  /// Markdown rows of the length control: `long_study` against `short_study`.
  std::vector<std::string> length_control(const std::string& long_study,
                                          const std::string& short_study) const;
  /// The pretraining-spectra section (stable rank and SVD entropy per layer group at the last
  /// checkpoint of the pretrained models that were fine-tuned), "" without analysis.
  /// `higher`/`total` count the layer groups where Muon's stable rank is the higher.
  std::string spectra_table(const ExperimentSpec& spec, int* higher, int* total) const;

 private:
  const std::vector<CollectedRun>& runs_;
  std::map<std::tuple<std::string, std::string, std::string, long>, Cell> cells_;
};

}  // namespace muft::sweep::report
