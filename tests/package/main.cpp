// Consumer of an installed muft: the metrics of a 2x3 matrix whose singular values are known.
// W = U diag(4, 3) V^T with U a rotation and V two orthonormal columns, so
//   ||W||_F = 5, sigma_1 = 4, nuclear norm 7, stable rank 25/16,
//   SVD entropy -(p1 log p1 + p2 log p2) / log 2 with p = (16/25, 9/25).
// Exit 0 when muft::analysis gives these, 1 otherwise (with the difference).
#include <cmath>
#include <cstdio>

#include <Eigen/Core>

#include "muft/analysis/metrics.h"

int main() {
  Eigen::Matrix2d u;
  u << 0.6, -0.8, 0.8, 0.6;
  const double r = std::sqrt(0.5);
  Eigen::Matrix<double, 3, 2> v;
  v << 1, 0, 0, r, 0, r;
  const Eigen::MatrixXd w = u * Eigen::Vector2d(4, 3).asDiagonal() * v.transpose();

  muft::analysis::MetricOptions opts;
  opts.method = muft::analysis::SvdMethod::Exact;
  const muft::analysis::MatrixMetrics m = muft::analysis::compute_metrics(w, opts);

  const double p1 = 16.0 / 25.0, p2 = 9.0 / 25.0;
  const double entropy = -(p1 * std::log(p1) + p2 * std::log(p2)) / std::log(2.0);
  struct Check {
    const char* name;
    double got, want;
  };
  const Check checks[] = {{"frobenius_norm", m.frobenius_norm, 5.0},
                          {"spectral_norm", m.spectral_norm, 4.0},
                          {"nuclear_norm", m.nuclear_norm, 7.0},
                          {"stable_rank", m.stable_rank, 25.0 / 16.0},
                          {"svd_entropy", m.svd_entropy, entropy}};
  const double kTol = 1e-12;  // double, 2x3, condition number 4/3
  int failed = 0;
  for (const Check& c : checks) {
    const double err = std::abs(c.got - c.want);
    if (!(err <= kTol)) {
      std::printf("FAIL %s: got %.17g, want %.17g (error %.3g)\n", c.name, c.got, c.want, err);
      ++failed;
    }
  }
  if (m.status != muft::analysis::MetricStatus::Ok) {
    std::printf("FAIL status %s: %s\n", muft::analysis::status_name(m.status), m.reason.c_str());
    ++failed;
  }
  if (failed == 0) std::printf("muft consumer: 5 metrics of a 2x3 matrix as expected\n");
  return failed == 0 ? 0 : 1;
}
