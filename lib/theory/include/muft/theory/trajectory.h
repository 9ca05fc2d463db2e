#pragma once
/// \file trajectory.h
/// Runs a theory optimizer on a regression problem and records loss and distances to
/// reference matrices (the data behind the paper's Figure 2 left and Figure 9).

#include <Eigen/Dense>

#include <string>
#include <vector>

#include "muft/theory/problems.h"
#include "muft/theory/update_rules.h"

namespace muft::theory {

/// Norm used to measure a distance.
enum class DistanceNorm { kMax, kSpectral, kFrobenius };
double matrix_distance(const Eigen::MatrixXd& A, const Eigen::MatrixXd& B, DistanceNorm norm);

/// A matrix the iterates are compared with.
struct Reference {
  std::string name;   ///< e.g. "w_star_max"
  Eigen::MatrixXd W;  ///< (m, n)
  DistanceNorm norm = DistanceNorm::kFrobenius;
};

/// Recorded run. dist[r][i] = distance of W_{step[i]} to reference r.
struct Trajectory {
  std::vector<long> step;
  std::vector<double> loss;
  std::vector<std::vector<double>> dist;
  Eigen::MatrixXd W_final;  ///< (m, n) after the last step
  bool finite = true;       ///< false when an iterate became non-finite (run stopped there)
};

/// Recording points: 0, then about `points` log-spaced steps up to `steps`, plus `extra`.
std::vector<long> record_schedule(long steps, int points, const std::vector<long>& extra = {});

/// Runs `steps` optimizer steps from W_init (m, n); records at `record` (sorted, <= steps).
Trajectory run_optimizer(const Regression& problem, const Eigen::MatrixXd& W_init,
                         const OptimizerSpec& spec, long steps, const std::vector<long>& record,
                         const std::vector<Reference>& refs);

}  // namespace muft::theory
