#pragma once
/// \file meta.h
/// Random-effects pooling of per-task effects: the DerSimonian–Laird estimate (DerSimonian &
/// Laird 1986, as the paper's Sec. 4.3 "Statistical significance across tasks", arXiv
/// 2605.10468) with its normal-quantile interval, and the Hartung–Knapp–Sidik–Jonkman interval
/// around the same estimate (Hartung & Knapp 2001; Sidik & Jonkman 2002), which IntHout,
/// Ioannidis & Borm (2014) recommend when the number of tasks k is small. The per-task effects
/// come from gap_reduction.h.

#include <cstddef>
#include <limits>
#include <string>
#include <vector>

namespace muft::stats {

/// One task's effect, its sampling variance and the degrees of freedom of that variance.
struct Effect {
  std::string task;
  double y = 0.0;         ///< effect size
  double variance = 0.0;  ///< its sampling variance (> 0)
  /// Degrees of freedom of `variance` for the task's own Student-t interval (effect_interval):
  /// n − 1 for a paired mean over n seeds, Welch–Satterthwaite for a sum of independent means,
  /// +inf for a known variance (normal quantile), NaN when unknown (no interval).
  double df = std::numeric_limits<double>::infinity();
};

/// A two-sided interval.
struct Interval {
  double low = 0.0;
  double high = 0.0;
};

/// The task's own interval \f$ y \pm t_{df,\,1-(1-c)/2} \sqrt v \f$ (normal quantile when df is
/// infinite; both ends NaN when df is NaN or ≤ 0). Throws std::invalid_argument when confidence
/// is not in (0, 1).
Interval effect_interval(const Effect& e, double confidence = 0.95);

/// Outcome of the pooling.
enum class MetaStatus {
  kSuccessful,  ///< k ≥ 2 tasks pooled
  kSingleStudy  ///< k = 1: the estimate is that task's y, τ² = 0, Q = 0, no HKSJ interval
};

/// Hartung–Knapp–Sidik–Jonkman interval around the random-effects mean \f$ \hat\mu \f$ with
/// weights \f$ w_i^* = 1/(v_i + \hat\tau^2) \f$:
/// \f$ q = \sum w_i^* (y_i-\hat\mu)^2 / ((k-1) \sum w_i^*) \f$ and
/// \f$ \hat\mu \pm t_{k-1,\,1-(1-c)/2} \sqrt q \f$ (Hartung & Knapp 2001; Sidik & Jonkman 2002).
/// This is the standard, untruncated form. The "modified" form (Knapp & Hartung 2003; Röver,
/// Knapp & Friede 2015) replaces q by \f$ \max(q, 1/\sum w_i^*) \f$ so that the interval is never
/// narrower than the DL one with a t quantile; it is reported alongside (`modified_*`).
struct HksjInterval {
  bool defined = false;  ///< false for k = 1 (no degrees of freedom): every number below NaN
  double df = std::numeric_limits<double>::quiet_NaN();  ///< k − 1
  double se = std::numeric_limits<double>::quiet_NaN();  ///< \f$ \sqrt q \f$
  /// \f$ q \sum w_i^* \f$ = HKSJ variance / DL variance; < 1 when the tasks agree more closely
  /// than their variances predict, the case in which the standard interval can be too narrow.
  double scale = std::numeric_limits<double>::quiet_NaN();
  double ci_low = std::numeric_limits<double>::quiet_NaN();   ///< \f$ \hat\mu - t\,\sqrt q \f$
  double ci_high = std::numeric_limits<double>::quiet_NaN();  ///< \f$ \hat\mu + t\,\sqrt q \f$
  double t = std::numeric_limits<double>::quiet_NaN();  ///< \f$ \hat\mu/\sqrt q \f$ (±inf if q = 0)
  /// Two-sided \f$ 2(1 - F_{t,k-1}(|t|)) \f$.
  double p_value = std::numeric_limits<double>::quiet_NaN();
  /// The modified form: se \f$ \sqrt{\max(q, 1/\sum w_i^*)} \f$, its interval and p-value.
  double modified_se = std::numeric_limits<double>::quiet_NaN();
  double modified_ci_low = std::numeric_limits<double>::quiet_NaN();
  double modified_ci_high = std::numeric_limits<double>::quiet_NaN();
  double modified_p_value = std::numeric_limits<double>::quiet_NaN();
};

/// DerSimonian–Laird random-effects estimate, with the HKSJ interval around it.
struct MetaResult {
  MetaStatus status = MetaStatus::kSuccessful;
  std::size_t k = 0;  ///< number of tasks
  double estimate =
      0.0;  ///< \f$ \hat\mu = \sum w_i^* y_i / \sum w_i^* \f$, \f$ w_i^* = 1/(v_i+\hat\tau^2) \f$
  double se = 0.0;      ///< DL standard error \f$ 1/\sqrt{\sum w_i^*} \f$
  double ci_low = 0.0;  ///< DL: \f$ \hat\mu - z_{1-(1-c)/2}\, se \f$ (normal quantile)
  double ci_high = 0.0;
  double z = 0.0;        ///< \f$ \hat\mu / se \f$
  double p_value = 1.0;  ///< DL, two-sided \f$ 2(1-\Phi(|z|)) \f$
  double tau2 =
      0.0;  ///< \f$ \max(0, (Q-(k-1))/(\sum w_i - \sum w_i^2/\sum w_i)) \f$, \f$ w_i = 1/v_i \f$
  double q = 0.0;               ///< Cochran's \f$ Q = \sum w_i (y_i - \hat\mu_{FE})^2 \f$
  double i2 = 0.0;              ///< \f$ I^2 = \max(0, (Q-(k-1))/Q) \f$ (0 when Q = 0)
  double fixed_estimate = 0.0;  ///< fixed-effect (inverse-variance) estimate \f$ \hat\mu_{FE} \f$
  std::vector<double> weights;  ///< normalized random-effects weights, one per effect
  HksjInterval hksj;            ///< HKSJ interval around `estimate`
  double confidence = 0.95;
};

/// Pools effects by DerSimonian–Laird and adds the HKSJ interval. Throws std::invalid_argument
/// when `effects` is empty, a variance is not finite and > 0, a y is not finite, or confidence
/// is not in (0, 1).
MetaResult dersimonian_laird(const std::vector<Effect>& effects, double confidence = 0.95);

/// The HKSJ interval around the random-effects mean for a given between-task variance `tau2`
/// (dersimonian_laird passes its \f$ \hat\tau^2_{DL} \f$). Same preconditions as
/// dersimonian_laird, and tau2 must be finite and ≥ 0; `defined` is false for one effect.
HksjInterval hksj_interval(const std::vector<Effect>& effects, double tau2,
                           double confidence = 0.95);

}  // namespace muft::stats
