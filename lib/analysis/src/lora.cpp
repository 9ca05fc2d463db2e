/// \file lora.cpp
/// LoRA pairing, adapter_config.json, and metrics of s·B·A through its r×r core.

#include "muft/analysis/lora.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>

#include <Eigen/QR>
#include <nlohmann/json.hpp>

namespace muft::analysis {

bool parse_lora_name(const std::string& name, std::string* module, char* role) {
  for (const char r : {'A', 'B'}) {
    const std::string key = std::string(".lora_") + r;
    const std::size_t pos = name.rfind(key);
    if (pos == std::string::npos || pos == 0) continue;
    const std::string rest = name.substr(pos + key.size());
    // Accept "", ".weight", ".<adapter>.weight" (PEFT's named adapters, e.g. ".default.weight").
    bool ok = rest.empty() || rest == ".weight";
    if (!ok && rest.size() > 8 && rest[0] == '.' &&
        rest.compare(rest.size() - 7, 7, ".weight") == 0) {
      ok = rest.find('.', 1) == rest.size() - 7;
    }
    if (!ok) continue;
    if (module) *module = name.substr(0, pos);
    if (role) *role = r;
    return true;
  }
  return false;
}

std::vector<LoraPair> find_lora_pairs(const std::vector<std::string>& names,
                                      std::vector<std::string>* unpaired) {
  std::map<std::string, LoraPair> by_module;
  for (const std::string& n : names) {
    std::string module;
    char role = 0;
    if (!parse_lora_name(n, &module, &role)) continue;
    LoraPair& p = by_module[module];
    p.module = module;
    (role == 'A' ? p.a_name : p.b_name) = n;
  }
  std::vector<LoraPair> out;
  for (auto& [module, p] : by_module) {
    if (p.a_name.empty() || p.b_name.empty()) {
      if (unpaired) unpaired->push_back(p.a_name.empty() ? p.b_name : p.a_name);
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
  return rslora ? alpha / std::sqrt(r) : alpha / r;
}

std::optional<LoraScale> read_adapter_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  nlohmann::json j;
  try {
    in >> j;
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": not valid JSON (" + e.what() + ")");
  }
  LoraScale s;
  if (j.contains("lora_alpha") && j["lora_alpha"].is_number())
    s.alpha = j["lora_alpha"].get<double>();
  if (j.contains("r") && j["r"].is_number()) s.rank = j["r"].get<double>();
  if (j.contains("use_rslora") && j["use_rslora"].is_boolean())
    s.rslora = j["use_rslora"].get<bool>();
  return s;
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
