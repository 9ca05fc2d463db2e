#pragma once
/// \file update_rules.h
/// Composable update rules of the theory optimizers: a momentum stage, a direction map and a
/// step-size schedule (arXiv 2605.10468, App. B and D). Each piece is a small function; the
/// Optimizer class only composes them.

#include <Eigen/Dense>

#include <array>
#include <string>
#include <vector>

#include "muft/theory/polar_express.h"
#include "muft/theory/schedule.h"

namespace muft::theory {

/// The direction map D(M) applied to the (momentum-filtered) gradient.
enum class Direction {
  kGradient,    ///< GD: D(M) = M
  kSign,        ///< SignGD: D(M) = sign(M), sign(0) = 0
  kAdam,        ///< Adam: \f$\hat m/(\sqrt{\hat v} + \epsilon)\f$, with 0/0 := 0
  kOrthoExact,  ///< Muon: polar factor \f$UV^\top\f$ of the compact SVD
  kOrthoNS5,    ///< Muon: Newton–Schulz quintic (3.4445, -4.7750, 2.0315)
  kOrthoPE,     ///< Muon: Polar Express coefficients, first `ortho_steps` triples
};

/// Adam's moment estimates. With beta1 = beta2 = 0 and eps = 0 Adam is exactly SignGD.
struct AdamOptions {
  double beta1 = 0.9;           ///< first-moment decay in [0, 1)
  double beta2 = 0.999;         ///< second-moment decay in [0, 1)
  double eps = 1e-8;            ///< added to \f$\sqrt{\hat v}\f$, >= 0
  bool bias_correction = true;  ///< divide by \f$1-\beta^t\f$
};

/// Momentum stage in front of the direction map (not used with Adam, which has its own).
struct MomentumOptions {
  enum class Kind {
    kNone,       ///< M_t = G_t
    kEma,        ///< \f$M_t = \beta M_{t-1} + (1-\beta) G_t\f$ (original Muon)
    kClassical,  ///< \f$M_t = \beta M_{t-1} + G_t\f$ (Moonlight)
  };
  Kind kind = Kind::kNone;
  double beta = 0.95;     ///< in [0, 1)
  bool nesterov = false;  ///< feed \f$\beta M_t + (1-\beta)G_t\f$ (EMA) or \f$\beta M_t + G_t\f$
                          ///< (classical) to the direction map instead of M_t
};

/// Shape-dependent Muon scale (App. B): none, original \f$\sqrt{\max(1, m/n)}\f$, Moonlight
/// \f$0.2\sqrt{\max(m, n)}\f$.
enum class MuonScale { kNone, kOriginal, kMoonlight };

/// A complete optimizer: direction, momentum, schedule.
struct OptimizerSpec {
  std::string label = "signgd";  ///< name used in tables and files
  Direction direction = Direction::kSign;
  MomentumOptions momentum;                 ///< ignored for kAdam (must be kNone)
  AdamOptions adam;                         ///< only for kAdam
  int ortho_steps = 5;                      ///< NS5 / PE steps
  PolarExpressOptions pe;                   ///< PE generator setting (paper default)
  MuonScale muon_scale = MuonScale::kNone;  ///< only for the kOrtho* directions
  StepSchedule schedule;                    ///< step sizes

  bool IsValid(std::string* error) const;
};

/// Factories of the plain (momentum-free) optimizers with the given schedule.
OptimizerSpec gd_optimizer(const StepSchedule& s);
OptimizerSpec signgd_optimizer(const StepSchedule& s);
OptimizerSpec adam_optimizer(const StepSchedule& s, const AdamOptions& a);
OptimizerSpec muon_exact_optimizer(const StepSchedule& s);
OptimizerSpec muon_ns5_optimizer(const StepSchedule& s);
OptimizerSpec muon_pe_optimizer(const StepSchedule& s);

/// Entrywise sign with sign(0) = 0. M: (m, n).
Eigen::MatrixXd sign_matrix(const Eigen::MatrixXd& M);

/// One momentum update: advances `buffer` with G and returns what the direction map sees.
Eigen::MatrixXd momentum_stage(const MomentumOptions& opts, Eigen::MatrixXd* buffer,
                               const Eigen::MatrixXd& G);

/// Adam moment state for one matrix.
struct AdamState {
  Eigen::MatrixXd m;  ///< (m, n) first moment
  Eigen::MatrixXd v;  ///< (m, n) second moment
  long t = 0;         ///< number of updates so far
};

/// One Adam direction \f$\hat m_t/(\sqrt{\hat v_t}+\epsilon)\f$ (entries with zero numerator
/// and denominator give 0); advances the state.
Eigen::MatrixXd adam_direction(const AdamOptions& opts, AdamState* state, const Eigen::MatrixXd& G);

/// Scale factor of the Muon update for an (m, n) matrix.
double muon_scale_factor(MuonScale scale, Eigen::Index rows, Eigen::Index cols);

/// Stateful optimizer for one (rows, cols) matrix: W <- W - eta_t * scale * D(momentum(G)).
class Optimizer {
 public:
  /// Throws std::invalid_argument when !spec.IsValid() or a size is not positive.
  Optimizer(const OptimizerSpec& spec, Eigen::Index rows, Eigen::Index cols);
  /// Applies one step to W (rows, cols) with gradient G (rows, cols).
  void step(Eigen::MatrixXd& W, const Eigen::MatrixXd& G);
  /// The direction of the last step (before eta and scale).
  const Eigen::MatrixXd& last_direction() const { return last_direction_; }
  long steps_taken() const { return t_; }
  const OptimizerSpec& spec() const { return spec_; }

 private:
  OptimizerSpec spec_;
  Eigen::MatrixXd buffer_;
  AdamState adam_;
  std::vector<std::array<double, 3>> pe_coeffs_;
  Eigen::MatrixXd last_direction_;
  double scale_ = 1.0;
  long t_ = 0;
};

}  // namespace muft::theory
