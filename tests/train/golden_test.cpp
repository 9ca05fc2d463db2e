// Golden-value tests: muft's AdamW and Muon against tests/train/golden/optim_golden.json,
// produced independently by tests/train/golden/make_golden.py (python3-torch: torch.optim.AdamW,
// and Muon / Polar Express written from their definitions in Python).
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "muft/theory/polar_express.h"
#include "muft/train/optim.h"

namespace muft::train {
namespace {

const nlohmann::json& golden() {
  static const nlohmann::json j = [] {
    // The directory comes from CMake: __FILE__ is relative when a compiler cache rewrites paths.
    const std::string path = std::string(MUFT_TRAIN_TEST_DIR) + "/golden/optim_golden.json";
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open " + path);
    return nlohmann::json::parse(in);
  }();
  return j;
}

torch::Tensor tensor(const nlohmann::json& values, std::vector<int64_t> shape) {
  auto v = values.get<std::vector<float>>();
  return torch::tensor(v, torch::kFloat32).reshape(shape);
}

// Closed-form gradients of ||W X + b 1ᵀ − Y||² / (2k), exactly as the script forms them.
std::pair<torch::Tensor, torch::Tensor> grads(const torch::Tensor& W, const torch::Tensor& b,
                                              const torch::Tensor& X, const torch::Tensor& Y) {
  const double k = static_cast<double>(X.size(1));
  auto R = (W.mm(X) + b.unsqueeze(1) - Y) / k;
  return {R.mm(X.t()), R.sum(1)};
}

// float32 arithmetic in a different order (C++ addmm vs Python) over 5 steps.
constexpr double kTol = 2e-5;

TEST(GoldenTest, AdamWMatchesTorchOptimAdamW) {
  const auto& c = golden().at("adamw");
  const int64_t m = c.at("m"), n = c.at("n"), k = c.at("k");
  auto W = tensor(c.at("W0"), {m, n}).set_requires_grad(true);
  auto b = tensor(c.at("b0"), {m}).set_requires_grad(true);
  auto X = tensor(c.at("X"), {n, k}), Y = tensor(c.at("Y"), {m, k});
  ParamGroup g;
  g.name = "all";
  g.names = {"W", "b"};
  g.params = {W, b};
  g.options =
      AdamWOptions{c.at("lr"), c.at("beta1"), c.at("beta2"), c.at("eps"), c.at("weight_decay")};
  Optimizer opt({g});
  const auto& traj_W = c.at("W");
  const auto& traj_b = c.at("b");
  for (std::size_t s = 0; s < traj_W.size(); ++s) {
    {
      torch::NoGradGuard ng;
      auto [gW, gb] = grads(W, b, X, Y);
      W.mutable_grad() = gW;
      b.mutable_grad() = gb;
    }
    opt.step();
    const double dW = (W - tensor(traj_W[s], {m, n})).abs().max().item<double>();
    const double db = (b - tensor(traj_b[s], {m})).abs().max().item<double>();
    EXPECT_LT(dW, kTol) << "step " << s + 1;
    EXPECT_LT(db, kTol) << "step " << s + 1;
  }
  // The trajectory moved far beyond the tolerance, so the comparison can fail.
  EXPECT_GT((W - tensor(c.at("W0"), {m, n})).abs().max().item<double>(), 100 * kTol);
}

// Runs muft's Muon on the case and returns the worst deviation over the trajectory.
double muon_deviation(const nlohmann::json& c, const MuonOptions& o) {
  const int64_t m = c.at("m"), n = c.at("n"), k = c.at("k");
  auto W = tensor(c.at("W0"), {m, n}).set_requires_grad(true);
  auto b = tensor(c.at("b0"), {m});
  auto X = tensor(c.at("X"), {n, k}), Y = tensor(c.at("Y"), {m, k});
  ParamGroup g;
  g.name = "W";
  g.names = {"W"};
  g.params = {W};
  g.options = o;
  Optimizer opt({g});
  double worst = 0;
  const auto& traj = c.at("W");
  for (std::size_t s = 0; s < traj.size(); ++s) {
    {
      torch::NoGradGuard ng;
      W.mutable_grad() = grads(W, b, X, Y).first;
    }
    opt.step();
    worst = std::max(worst, (W - tensor(traj[s], {m, n})).abs().max().item<double>());
  }
  return worst;
}

MuonOptions options_of(const nlohmann::json& c) {
  MuonOptions o;
  o.lr = c.at("lr");
  o.momentum = c.at("momentum");
  o.weight_decay = c.at("weight_decay");
  o.variant = parse_muon_variant(c.at("variant"));
  o.nesterov = true;
  o.ns.bf16 = false;
  o.ns.coefficients =
      c.at("norm_mult").get<double>() > 1.0 ? NSCoefficients::kPolarExpress : NSCoefficients::kNS5;
  return o;
}

TEST(GoldenTest, MuonMoonlightNS5) {
  const auto& c = golden().at("muon_moonlight_ns5");
  EXPECT_LT(muon_deviation(c, options_of(c)), kTol);
}

TEST(GoldenTest, MuonOriginalNS5TallMatrix) {
  const auto& c = golden().at("muon_original_ns5");
  EXPECT_LT(muon_deviation(c, options_of(c)), kTol);
}

TEST(GoldenTest, MuonPolarExpressWithTheScriptsCoefficients) {
  const auto& c = golden().at("muon_moonlight_pe");
  MuonOptions o = options_of(c);
  o.ns.custom = c.at("coefficients").get<std::vector<std::array<double, 3>>>();
  EXPECT_LT(muon_deviation(c, o), kTol);
}

TEST(GoldenTest, MuonPolarExpressWithMuftsOwnCoefficients) {
  // Same trajectory when the coefficients come from muft::theory instead of the script.
  const auto& c = golden().at("muon_moonlight_pe");
  EXPECT_LT(muon_deviation(c, options_of(c)), kTol);
}

TEST(GoldenTest, TheoryPolarExpressCoefficientsMatchTheIndependentGenerator) {
  const auto want = golden()
                        .at("polar_express_l1e-3_K10_safety1e-2_cushion0.02")
                        .get<std::vector<std::array<double, 3>>>();
  const auto got = theory::polar_express_coefficients(theory::PolarExpressOptions{});
  ASSERT_EQ(got.size(), want.size());
  // Muon-PE uses the first 5 triples: these must agree to ~1e-9. Later triples fit
  // intervals with ℓ/u → 1, where the 4×4 Remez system is nearly singular and the two
  // generators stop at slightly different iterates (observed ≈ 1e-6 relative at step 8).
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double rel = i < 5 ? 1e-9 : 1e-5;
    for (int j = 0; j < 3; ++j)
      EXPECT_NEAR(got[i][j], want[i][j], rel * std::abs(want[i][j])) << "triple " << i;
  }
}

TEST(GoldenTest, AWrongVariantIsDetected) {
  // The golden comparison must be able to fail: the original variant on a moonlight case.
  const auto& c = golden().at("muon_moonlight_ns5");
  MuonOptions o = options_of(c);
  o.variant = MuonVariant::kOriginal;
  EXPECT_GT(muon_deviation(c, o), 100 * kTol);
  o = options_of(c);
  o.nesterov = false;
  // On this smooth problem M stays nearly parallel to G, so Nesterov moves the trajectory
  // less (≈ 13 × kTol), still clearly beyond the tolerance.
  EXPECT_GT(muon_deviation(c, o), 5 * kTol);
}

}  // namespace
}  // namespace muft::train
