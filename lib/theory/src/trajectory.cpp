#include "muft/theory/trajectory.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "muft/theory/closed_forms.h"

namespace muft::theory {

double matrix_distance(const Eigen::MatrixXd& A, const Eigen::MatrixXd& B, DistanceNorm norm) {
  switch (norm) {
    case DistanceNorm::kMax:
      return max_norm(A - B);
    case DistanceNorm::kSpectral:
      return spectral_norm(A - B);
    case DistanceNorm::kFrobenius:
      return (A - B).norm();
  }
  return 0.0;
}

std::vector<long> record_schedule(long steps, int points, const std::vector<long>& extra) {
  std::vector<long> r{0, steps};
  for (int i = 0; i <= points; ++i) {
    r.push_back(static_cast<long>(
        std::llround(std::pow(static_cast<double>(steps), static_cast<double>(i) / points))));
  }
  for (long e : extra) r.push_back(e);
  std::sort(r.begin(), r.end());
  r.erase(std::unique(r.begin(), r.end()), r.end());
  r.erase(std::remove_if(r.begin(), r.end(), [&](long s) { return s < 0 || s > steps; }), r.end());
  return r;
}

Trajectory run_optimizer(const Regression& problem, const Eigen::MatrixXd& W_init,
                         const OptimizerSpec& spec, long steps, const std::vector<long>& record,
                         const std::vector<Reference>& refs) {
  problem.validate();
  if (W_init.rows() != problem.rows() || W_init.cols() != problem.cols()) {
    throw std::invalid_argument("run_optimizer: W_init must be (m, n) of the problem");
  }
  if (steps < 0) throw std::invalid_argument("run_optimizer: steps must be >= 0");
  Optimizer opt(spec, problem.rows(), problem.cols());
  Trajectory tr;
  tr.dist.resize(refs.size());
  Eigen::MatrixXd W = W_init;
  std::size_t next = 0;
  auto maybe_record = [&](long t) {
    while (next < record.size() && record[next] < t) ++next;
    if (next < record.size() && record[next] == t) {
      tr.step.push_back(t);
      tr.loss.push_back(problem.loss(W));
      for (std::size_t r = 0; r < refs.size(); ++r) {
        tr.dist[r].push_back(matrix_distance(W, refs[r].W, refs[r].norm));
      }
      ++next;
    }
  };
  maybe_record(0);
  for (long t = 0; t < steps; ++t) {
    opt.step(W, problem.gradient(W));
    if (!W.allFinite()) {
      tr.finite = false;
      break;
    }
    maybe_record(t + 1);
  }
  tr.W_final = W;
  return tr;
}

}  // namespace muft::theory
