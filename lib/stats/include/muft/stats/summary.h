#pragma once
/// \file summary.h
/// Mean ± sample standard deviation over seeds with a Student-t confidence interval,
/// and paired differences (paired t-test).

#include <cstddef>
#include <vector>

namespace muft::stats {

/// Mean, sample standard deviation and a two-sided Student-t confidence interval of a sample.
struct Summary {
  std::size_t n = 0;     ///< number of values
  double mean = 0.0;     ///< \f$ \bar x = \frac1n \sum x_i \f$
  double std = 0.0;      ///< sample std \f$ s = \sqrt{\sum (x_i-\bar x)^2/(n-1)} \f$ (0 when n = 1)
  double sem = 0.0;      ///< standard error \f$ s/\sqrt n \f$
  double ci_low = 0.0;   ///< \f$ \bar x - t_{1-(1-c)/2,\,n-1}\, s/\sqrt n \f$ (NaN when n = 1)
  double ci_high = 0.0;  ///< upper end, symmetric to ci_low (NaN when n = 1)
  double confidence = 0.95;  ///< confidence level c of the interval
};

/// Summarizes values (e.g. one metric over seeds). Throws std::invalid_argument when `values`
/// is empty or `confidence` is not in (0, 1). Non-finite values propagate (a diverged seed
/// makes the mean non-finite, which the best-LR selection treats as "not a candidate").
Summary summarize(const std::vector<double>& values, double confidence = 0.95);

/// Quantile of Student's t distribution with `dof` > 0 degrees of freedom at probability p in (0,
/// 1).
double t_quantile(double p, double dof);
/// Quantile of the standard normal distribution at probability p in (0, 1).
double normal_quantile(double p);
/// Standard normal cumulative distribution \f$ \Phi(x) \f$.
double normal_cdf(double x);

/// Paired difference a_i − b_i (same seeds), with a paired two-sided t-test of mean 0.
struct PairedDifference {
  Summary difference;    ///< summary of d_i = a_i − b_i
  double t = 0.0;        ///< \f$ \bar d / (s_d/\sqrt n) \f$ (±inf when s_d = 0 and d̄ ≠ 0)
  double p_value = 1.0;  ///< two-sided, Student-t with n − 1 dof (NaN when n < 2)
};

/// Throws std::invalid_argument unless a and b have the same length ≥ 1.
PairedDifference paired_difference(const std::vector<double>& a, const std::vector<double>& b,
                                   double confidence = 0.95);

}  // namespace muft::stats
