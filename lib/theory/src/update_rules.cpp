#include "muft/theory/update_rules.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

#include "muft/theory/orthogonalize.h"

namespace muft::theory {

bool OptimizerSpec::IsValid(std::string* error) const {
  std::string why;
  std::ostringstream msg;
  if (!schedule.IsValid(&why)) {
    msg << why;
  } else if (direction == Direction::kAdam &&
             !(adam.beta1 >= 0.0 && adam.beta1 < 1.0 && adam.beta2 >= 0.0 && adam.beta2 < 1.0)) {
    msg << "Adam betas must be in [0, 1), got (" << adam.beta1 << ", " << adam.beta2 << ")";
  } else if (direction == Direction::kAdam && !(adam.eps >= 0.0)) {
    msg << "Adam eps must be >= 0, got " << adam.eps;
  } else if (direction == Direction::kAdam && momentum.kind != MomentumOptions::Kind::kNone) {
    msg << "Adam keeps its own first moment: use momentum kind none";
  } else if (momentum.kind != MomentumOptions::Kind::kNone &&
             !(momentum.beta >= 0.0 && momentum.beta < 1.0)) {
    msg << "momentum beta must be in [0, 1), got " << momentum.beta;
  } else if ((direction == Direction::kOrthoNS5 || direction == Direction::kOrthoPE) &&
             ortho_steps < 1) {
    msg << "orthogonalization steps must be >= 1, got " << ortho_steps;
  } else if (direction == Direction::kOrthoPE && !pe.IsValid(&why)) {
    msg << "Polar Express: " << why;
  } else if (direction == Direction::kOrthoPE && ortho_steps > pe.iterations) {
    msg << "Polar Express: " << ortho_steps << " steps need at least that many iterations, got "
        << pe.iterations;
  } else {
    return true;
  }
  if (error != nullptr) *error = msg.str();
  return false;
}

namespace {
OptimizerSpec make(const std::string& label, Direction d, const StepSchedule& s) {
  OptimizerSpec o;
  o.label = label;
  o.direction = d;
  o.schedule = s;
  return o;
}
}  // namespace

OptimizerSpec gd_optimizer(const StepSchedule& s) {
  return make("gd", Direction::kGradient, s);
}
OptimizerSpec signgd_optimizer(const StepSchedule& s) {
  return make("signgd", Direction::kSign, s);
}
OptimizerSpec adam_optimizer(const StepSchedule& s, const AdamOptions& a) {
  OptimizerSpec o = make("adam", Direction::kAdam, s);
  o.adam = a;
  return o;
}
OptimizerSpec muon_exact_optimizer(const StepSchedule& s) {
  return make("muon-exact", Direction::kOrthoExact, s);
}
OptimizerSpec muon_ns5_optimizer(const StepSchedule& s) {
  return make("muon-ns5", Direction::kOrthoNS5, s);
}
OptimizerSpec muon_pe_optimizer(const StepSchedule& s) {
  return make("muon-pe", Direction::kOrthoPE, s);
}

Eigen::MatrixXd sign_matrix(const Eigen::MatrixXd& M) {
  return M.unaryExpr([](double v) { return static_cast<double>((v > 0.0) - (v < 0.0)); });
}

Eigen::MatrixXd momentum_stage(const MomentumOptions& opts, Eigen::MatrixXd* buffer,
                               const Eigen::MatrixXd& G) {
  using Kind = MomentumOptions::Kind;
  if (opts.kind == Kind::kNone) return G;
  if (buffer->size() == 0) *buffer = Eigen::MatrixXd::Zero(G.rows(), G.cols());
  const double b = opts.beta;
  const double g_weight = opts.kind == Kind::kEma ? 1.0 - b : 1.0;
  *buffer = b * *buffer + g_weight * G;
  if (!opts.nesterov) return *buffer;
  return b * *buffer + g_weight * G;
}

Eigen::MatrixXd adam_direction(const AdamOptions& opts, AdamState* st, const Eigen::MatrixXd& G) {
  if (st->m.size() == 0) {
    st->m = Eigen::MatrixXd::Zero(G.rows(), G.cols());
    st->v = Eigen::MatrixXd::Zero(G.rows(), G.cols());
  }
  ++st->t;
  st->m = opts.beta1 * st->m + (1.0 - opts.beta1) * G;
  st->v = opts.beta2 * st->v + (1.0 - opts.beta2) * G.cwiseProduct(G);
  double c1 = 1.0, c2 = 1.0;
  if (opts.bias_correction) {
    c1 = 1.0 - std::pow(opts.beta1, static_cast<double>(st->t));
    c2 = 1.0 - std::pow(opts.beta2, static_cast<double>(st->t));
  }
  Eigen::MatrixXd d(G.rows(), G.cols());
  for (Eigen::Index j = 0; j < G.cols(); ++j) {
    for (Eigen::Index i = 0; i < G.rows(); ++i) {
      const double num = st->m(i, j) / c1;
      const double den = std::sqrt(st->v(i, j) / c2) + opts.eps;
      d(i, j) = den == 0.0 ? 0.0 : num / den;  // v = 0 means every gradient so far was 0
    }
  }
  return d;
}

double muon_scale_factor(MuonScale scale, Eigen::Index rows, Eigen::Index cols) {
  const double m = static_cast<double>(rows), n = static_cast<double>(cols);
  switch (scale) {
    case MuonScale::kNone:
      return 1.0;
    case MuonScale::kOriginal:
      return std::sqrt(std::max(1.0, m / n));
    case MuonScale::kMoonlight:
      return 0.2 * std::sqrt(std::max(m, n));
  }
  return 1.0;
}

Optimizer::Optimizer(const OptimizerSpec& spec, Eigen::Index rows, Eigen::Index cols)
    : spec_(spec) {
  std::string why;
  if (!spec.IsValid(&why)) throw std::invalid_argument("optimizer '" + spec.label + "': " + why);
  if (rows < 1 || cols < 1) {
    throw std::invalid_argument("optimizer needs a matrix with positive sizes, got " +
                                std::to_string(rows) + "x" + std::to_string(cols));
  }
  if (spec.direction == Direction::kOrthoPE) pe_coeffs_ = polar_express_coefficients(spec.pe);
  const bool muon = spec.direction == Direction::kOrthoExact ||
                    spec.direction == Direction::kOrthoNS5 || spec.direction == Direction::kOrthoPE;
  scale_ = muon ? muon_scale_factor(spec.muon_scale, rows, cols) : 1.0;
}

void Optimizer::step(Eigen::MatrixXd& W, const Eigen::MatrixXd& G) {
  if (G.rows() != W.rows() || G.cols() != W.cols()) {
    throw std::invalid_argument("optimizer step: gradient and weight shapes differ");
  }
  switch (spec_.direction) {
    case Direction::kAdam:
      last_direction_ = adam_direction(spec_.adam, &adam_, G);
      break;
    case Direction::kGradient:
      last_direction_ = momentum_stage(spec_.momentum, &buffer_, G);
      break;
    case Direction::kSign:
      last_direction_ = sign_matrix(momentum_stage(spec_.momentum, &buffer_, G));
      break;
    case Direction::kOrthoExact:
      last_direction_ = ortho_exact(momentum_stage(spec_.momentum, &buffer_, G));
      break;
    case Direction::kOrthoNS5:
      last_direction_ =
          newton_schulz5(momentum_stage(spec_.momentum, &buffer_, G), spec_.ortho_steps);
      break;
    case Direction::kOrthoPE:
      last_direction_ = polar_express_orthogonalize(momentum_stage(spec_.momentum, &buffer_, G),
                                                    pe_coeffs_, spec_.ortho_steps);
      break;
  }
  W -= (spec_.schedule.eta(t_) * scale_) * last_direction_;
  ++t_;
}

}  // namespace muft::theory
