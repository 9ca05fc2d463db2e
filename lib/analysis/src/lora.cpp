/// \file lora.cpp
/// Adapter tensor names and pairing, the LoRA scale, metrics of s·B·A through its r×r core, and
/// DoRA's merged weight.

#include "muft/analysis/lora.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>
#include <string>

#include <Eigen/QR>

namespace muft::analysis {

namespace {

/// The tensor-name components that name an adapter tensor, after the module path.
struct RoleKey {
  const char* key;
  AdapterRole role;
  bool embedding;
};
constexpr RoleKey kRoleKeys[] = {
    {".lora_A", AdapterRole::A, false},
    {".lora_B", AdapterRole::B, false},
    {".lora_embedding_A", AdapterRole::A, true},
    {".lora_embedding_B", AdapterRole::B, true},
    {".lora_E", AdapterRole::E, false},
    {".lora_magnitude_vector", AdapterRole::Magnitude, false},
    {".ranknum", AdapterRole::Ranknum, false},
};

/// "", ".weight", ".<adapter>" or ".<adapter>.weight": what may follow a role key. PEFT's saved
/// adapters drop the adapter name; a model's full state dict keeps it (".default").
bool valid_suffix(const std::string& rest) {
  if (rest.empty() || rest == ".weight") return true;
  if (rest[0] != '.') return false;
  std::string name = rest.substr(1);
  const std::string w = ".weight";
  if (name.size() > w.size() && name.compare(name.size() - w.size(), w.size(), w) == 0) {
    name.resize(name.size() - w.size());
  } else if (name == "bias") {
    return false;  // lora_B.bias is the bias of PEFT's lora_bias, not a factor
  }
  return !name.empty() && name.find('.') == std::string::npos;
}

}  // namespace

bool parse_adapter_name(const std::string& name, std::string* module, AdapterRole* role,
                        bool* embedding) {
  const RoleKey* best = nullptr;
  std::size_t best_pos = 0;
  for (const RoleKey& k : kRoleKeys) {
    const std::string key = k.key;
    const std::size_t pos = name.rfind(key);
    if (pos == std::string::npos || pos == 0) continue;
    if (!valid_suffix(name.substr(pos + key.size()))) continue;
    if (!best || pos > best_pos) {
      best = &k;
      best_pos = pos;
    }
  }
  if (!best) return false;
  if (module) *module = name.substr(0, best_pos);
  if (role) *role = best->role;
  if (embedding) *embedding = best->embedding;
  return true;
}

bool parse_lora_name(const std::string& name, std::string* module, char* role) {
  AdapterRole r{};
  std::string m;
  if (!parse_adapter_name(name, &m, &r) || (r != AdapterRole::A && r != AdapterRole::B)) {
    return false;
  }
  if (module) *module = m;
  if (role) *role = r == AdapterRole::A ? 'A' : 'B';
  return true;
}

std::vector<LoraPair> find_lora_pairs(const std::vector<std::string>& names,
                                      std::vector<std::string>* unpaired) {
  std::map<std::string, LoraPair> by_module;
  for (const std::string& n : names) {
    std::string module;
    AdapterRole role{};
    bool embedding = false;
    if (!parse_adapter_name(n, &module, &role, &embedding)) continue;
    LoraPair& p = by_module[module];
    p.module = module;
    switch (role) {
      case AdapterRole::A:
        p.a_name = n;
        p.embedding = p.embedding || embedding;
        break;
      case AdapterRole::B:
        p.b_name = n;
        p.embedding = p.embedding || embedding;
        break;
      case AdapterRole::E:
        p.e_name = n;
        break;
      case AdapterRole::Magnitude:
        p.magnitude_name = n;
        break;
      case AdapterRole::Ranknum:
        p.ranknum_name = n;
        break;
    }
  }
  std::vector<LoraPair> out;
  for (auto& [module, p] : by_module) {
    if (p.a_name.empty() || p.b_name.empty()) {
      if (unpaired) {
        for (const std::string* n : {&p.a_name, &p.b_name, &p.e_name, &p.magnitude_name}) {
          if (!n->empty()) unpaired->push_back(*n);
        }
      }
      continue;
    }
    std::string base = module;
    const std::string peft = "base_model.model.";
    if (base.compare(0, peft.size(), peft) == 0) base = base.substr(peft.size());
    p.base_name = base + ".weight";
    out.push_back(p);
  }
  return out;
}

double LoraScale::scale(int64_t r_factors) const {
  if (!std::isfinite(alpha)) return 1.0;
  const double r = std::isfinite(rank) && rank > 0 ? rank : static_cast<double>(r_factors);
  // PEFT's SVDLinear divides by ranknum + 1e-5 (a guard against ranknum = 0 it applies always).
  if (adalora) return alpha / (r + 1e-5);
  return rslora ? alpha / std::sqrt(r) : alpha / r;
}

RowMatrixXd dora_merge(const Eigen::Ref<const RowMatrixXd>& W0, const Eigen::MatrixXd& B,
                       const Eigen::MatrixXd& A, double scale, const Eigen::VectorXd& magnitude,
                       bool outputs_are_rows) {
  if (B.cols() != A.rows() || W0.rows() != B.rows() || W0.cols() != A.cols()) {
    throw std::invalid_argument("DoRA shapes do not agree: W0 is " + std::to_string(W0.rows()) +
                                "x" + std::to_string(W0.cols()) + ", B is " +
                                std::to_string(B.rows()) + "x" + std::to_string(B.cols()) +
                                ", A is " + std::to_string(A.rows()) + "x" +
                                std::to_string(A.cols()));
  }
  const Eigen::Index outputs = outputs_are_rows ? W0.rows() : W0.cols();
  if (magnitude.size() != outputs) {
    throw std::invalid_argument("DoRA magnitude vector has " + std::to_string(magnitude.size()) +
                                " entries but the weight has " + std::to_string(outputs) +
                                " output features");
  }
  RowMatrixXd V = W0;
  V.noalias() += scale * (B * A);
  if (outputs_are_rows) {
    const Eigen::VectorXd f = magnitude.cwiseQuotient(V.rowwise().norm());
    return f.asDiagonal() * V;
  }
  const Eigen::VectorXd f = magnitude.cwiseQuotient(V.colwise().norm().transpose());
  return V * f.asDiagonal();
}

namespace {

/// Upper-triangular R (min(rows, r) × r) of the thin QR of M (rows × r).
Eigen::MatrixXd r_factor(const Eigen::MatrixXd& M) {
  Eigen::HouseholderQR<Eigen::MatrixXd> qr(M);
  const Eigen::Index k = std::min(M.rows(), M.cols());
  return qr.matrixQR().topRows(k).triangularView<Eigen::Upper>();
}

}  // namespace

MatrixMetrics lora_delta_metrics(const Eigen::MatrixXd& B, const Eigen::MatrixXd& A, double scale,
                                 const MetricOptions& opts) {
  if (B.cols() != A.rows()) {
    throw std::invalid_argument("LoRA shapes do not chain: B is " + std::to_string(B.rows()) + "x" +
                                std::to_string(B.cols()) + ", A is " + std::to_string(A.rows()) +
                                "x" + std::to_string(A.cols()));
  }
  MatrixMetrics m;
  m.rows = B.rows();
  m.cols = A.cols();
  if (!B.allFinite() || !A.allFinite() || !std::isfinite(scale)) {
    m.status = MetricStatus::NonFinite;
    m.reason = "non-finite entries in lora_A/lora_B or scale";
    return m;
  }
  if (m.rows == 0 || m.cols == 0 || B.cols() == 0) {
    m.status = MetricStatus::Empty;
    m.reason = "empty LoRA factors";
    return m;
  }
  // ΔW = s·Q_B R_B R_Aᵀ Q_Aᵀ: same singular values as the small core s·R_B R_Aᵀ.
  const Eigen::MatrixXd core = scale * (r_factor(B) * r_factor(A.transpose()).transpose());
  m.frobenius_norm = core.norm();
  // max |ΔW| over row blocks of B·A (at most 64 rows × n at a time).
  double mx = 0;
  for (Eigen::Index i0 = 0; i0 < B.rows(); i0 += 64) {
    const Eigen::Index bb = std::min<Eigen::Index>(64, B.rows() - i0);
    const Eigen::MatrixXd blk = B.middleRows(i0, bb) * A;
    mx = std::max(mx, blk.cwiseAbs().maxCoeff());
  }
  m.max_abs = std::fabs(scale) * mx;
  if (m.frobenius_norm == 0) {
    fill_from_singular_values(Eigen::VectorXd::Zero(1), opts, m);
    return m;
  }
  // The core is tiny: always the exact SVD, whatever the method (Fast included).
  const Eigen::MatrixXd core_rm = core.transpose();  // row-major buffer of core
  fill_from_singular_values(exact_singular_values(core_rm.data(), core.rows(), core.cols()), opts,
                            m);
  if (opts.esd.randomize) {
    // A shuffled ΔW would have to be formed densely, which this path exists to avoid.
    m.reason += std::string(m.reason.empty() ? "" : "; ") +
                "esd: rand_* not computed for a merged LoRA update";
  }
  return m;
}

template <class T>
DiffMetrics lora_diff(const T* w0, const Eigen::MatrixXd& B, const Eigen::MatrixXd& A, double scale,
                      const MetricOptions& opts) {
  const Eigen::Index m = B.rows(), n = A.cols(), r = B.cols();
  MatrixMetrics dm = lora_delta_metrics(B, A, scale, opts);
  // ⟨ΔW, W0⟩ = s·Σᵢ B(i,:)·(A W0(i,:)ᵀ) and ‖W0‖², one row of W0 at a time.
  double inner = 0, base_sq = 0;
  Eigen::VectorXd row(n), t(r);
  for (Eigen::Index i = 0; i < m; ++i) {
    const T* src = w0 + i * n;
    double rs = 0;
    for (Eigen::Index j = 0; j < n; ++j) {
      row[j] = static_cast<double>(src[j]);
      rs += row[j] * row[j];
    }
    base_sq += rs;
    t.noalias() = A * row;
    inner += B.row(i).dot(t);
  }
  inner *= scale;
  const double delta_sq = dm.frobenius_norm * dm.frobenius_norm;
  const double norm_sq = std::max(0.0, base_sq + 2 * inner + delta_sq);  // ‖W0 + ΔW‖²
  DiffMetrics d = distances_from_norms(delta_sq, norm_sq, base_sq);
  d.delta = std::move(dm);
  return d;
}

template DiffMetrics lora_diff<float>(const float*, const Eigen::MatrixXd&, const Eigen::MatrixXd&,
                                      double, const MetricOptions&);
template DiffMetrics lora_diff<double>(const double*, const Eigen::MatrixXd&,
                                       const Eigen::MatrixXd&, double, const MetricOptions&);

}  // namespace muft::analysis
