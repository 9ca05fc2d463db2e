// Newton–Schulz / Polar Express orthogonalization on LibTorch tensors.
#include "muft/train/newton_schulz.h"

#include <cmath>
#include <mutex>
#include <stdexcept>

#include "muft/theory/polar_express.h"

namespace muft::train {

NSCoefficients parse_ns_coefficients(const std::string& s) {
  if (s == "ns5") return NSCoefficients::kNS5;
  if (s == "pe" || s == "polar_express") return NSCoefficients::kPolarExpress;
  throw std::invalid_argument("unknown Newton-Schulz coefficients '" + s + "': expected ns5 or pe");
}

std::string to_string(NSCoefficients c) {
  return c == NSCoefficients::kNS5 ? "ns5" : "pe";
}

bool NewtonSchulzOptions::IsValid(std::string* error) const {
  auto fail = [&](const std::string& msg) {
    if (error) *error = msg;
    return false;
  };
  if (custom.empty()) {
    if (steps < 1) return fail("Newton-Schulz steps must be >= 1");
    if (coefficients == NSCoefficients::kPolarExpress && steps > 10)
      return fail("Polar Express provides 10 coefficient triples; steps must be <= 10");
  }
  for (const auto& t : custom)
    for (double v : t)
      if (!std::isfinite(v)) return fail("custom Newton-Schulz coefficients must be finite");
  return true;
}

namespace {
// The paper's Polar Express setting, generated once by muft::theory.
const std::vector<std::array<double, 3>>& polar_express_table() {
  static std::once_flag once;
  static std::vector<std::array<double, 3>> table;
  std::call_once(once, [] {
    theory::PolarExpressOptions o;
    o.lower = 1e-3;
    o.iterations = 10;
    o.safety = 1e-2;
    o.cushion = 0.02;
    table = theory::polar_express_coefficients(o);
  });
  return table;
}
}  // namespace

std::vector<std::array<double, 3>> ns_coefficients(const NewtonSchulzOptions& opts) {
  std::string error;
  if (!opts.IsValid(&error)) throw std::invalid_argument(error);
  if (!opts.custom.empty()) return opts.custom;
  if (opts.coefficients == NSCoefficients::kNS5)
    return std::vector<std::array<double, 3>>(static_cast<std::size_t>(opts.steps),
                                              kNS5Coefficients);
  const auto& pe = polar_express_table();
  return {pe.begin(), pe.begin() + opts.steps};
}

torch::Tensor newton_schulz(const torch::Tensor& g, const NewtonSchulzOptions& opts) {
  if (g.dim() < 2)
    throw std::invalid_argument("Newton-Schulz needs a tensor of dim >= 2, got dim " +
                                std::to_string(g.dim()));
  const auto coeffs = ns_coefficients(opts);
  torch::NoGradGuard no_grad;
  const bool pe = opts.coefficients == NSCoefficients::kPolarExpress;
  const bool bf16 = pe ? opts.pe_bf16 : opts.bf16;
  auto X = g.reshape({g.size(0), -1}).to(bf16 ? torch::kBFloat16 : torch::kFloat32);
  const bool transposed = X.size(0) > X.size(1);
  if (transposed) X = X.t();  // (small, large): the Gram matrix X Xᵀ is the small one
  const double norm_mult = pe ? 1.1 : 1.0;
  X = X / (X.norm() * norm_mult + 1e-7);
  for (const auto& abc : coeffs) {
    auto A = torch::mm(X, X.t());
    auto B = torch::addmm(A, A, A, /*beta=*/abc[1], /*alpha=*/abc[2]);  // b A + c A²
    X = torch::addmm(X, B, X, /*beta=*/abc[0], /*alpha=*/1.0);          // a X + B X
  }
  if (transposed) X = X.t();
  return X.to(g.scalar_type()).reshape(g.sizes());
}

}  // namespace muft::train
