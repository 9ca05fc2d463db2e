// Tests of the AdamW and Muon rules and the group optimizer (lib/train/src/optim.cpp).
#include "muft/train/optim.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "muft/train/gpt.h"
#include "muft/train/param_groups.h"

#include "test_util.h"

namespace muft::train {
namespace {

torch::Tensor leaf(torch::Tensor t) {
  return t.detach().clone().set_requires_grad(true);
}

TEST(AdamWTest, FirstTwoStepsMatchHandComputation) {
  auto p = leaf(torch::tensor({1.0f, -2.0f, 0.5f}));
  const std::vector<double> g1 = {0.5, -1.0, 0.0}, g2 = {-0.25, 2.0, 1.0};
  AdamWOptions o{0.1, 0.9, 0.99, 1e-8, 0.01};
  ParamGroup g;
  g.name = "all";
  g.names = {"p"};
  g.params = {p};
  g.options = o;
  Optimizer opt({g});
  std::vector<double> w = {1.0, -2.0, 0.5}, m(3, 0.0), v(3, 0.0);
  for (int t = 1; t <= 2; ++t) {
    const auto& gv = t == 1 ? g1 : g2;
    p.mutable_grad() = torch::tensor(std::vector<float>(gv.begin(), gv.end()));
    opt.step();
    for (int i = 0; i < 3; ++i) {
      w[i] *= 1 - o.lr * o.weight_decay;
      m[i] = o.beta1 * m[i] + (1 - o.beta1) * gv[i];
      v[i] = o.beta2 * v[i] + (1 - o.beta2) * gv[i] * gv[i];
      const double mh = m[i] / (1 - std::pow(o.beta1, t));
      const double vh = v[i] / (1 - std::pow(o.beta2, t));
      w[i] -= o.lr * mh / (std::sqrt(vh) + o.eps);
    }
    for (int i = 0; i < 3; ++i) EXPECT_NEAR(p[i].item<double>(), w[i], 1e-6) << "t=" << t;
  }
}

TEST(MuonTest, ShapeScales) {
  EXPECT_DOUBLE_EQ(muon_shape_scale(MuonVariant::kMoonlight, 4, 16), 0.8);
  EXPECT_DOUBLE_EQ(muon_shape_scale(MuonVariant::kMoonlight, 16, 4), 0.8);
  EXPECT_DOUBLE_EQ(muon_shape_scale(MuonVariant::kOriginal, 16, 4), 2.0);
  EXPECT_DOUBLE_EQ(muon_shape_scale(MuonVariant::kOriginal, 4, 16), 1.0);
  EXPECT_EQ(parse_muon_variant("original"), MuonVariant::kOriginal);
  EXPECT_THROW(parse_muon_variant("kimi"), std::invalid_argument);
}

TEST(MuonTest, FirstStepIsScaledOrthogonalizedGradientForBothVariants) {
  torch::manual_seed(2);
  auto g0 = torch::randn({6, 10});
  for (auto variant : {MuonVariant::kMoonlight, MuonVariant::kOriginal}) {
    auto p = leaf(torch::randn({6, 10}));
    auto p0 = p.detach().clone();
    MuonOptions o;
    o.lr = 0.05;
    o.variant = variant;
    o.ns.bf16 = false;
    auto m = torch::zeros_like(p);
    {
      torch::NoGradGuard ng;
      muon_update(p, g0, m, o.lr, o);
    }
    // U is a positive multiple of G on the first step and NS normalizes it away.
    auto want = p0 - o.lr * muon_shape_scale(variant, 6, 10) * newton_schulz(g0, o.ns);
    EXPECT_LT((p - want).abs().max().item<double>(), 1e-5) << to_string(variant);
    // Momentum after one step: G (moonlight) or (1 − β)G (original).
    const double f = variant == MuonVariant::kMoonlight ? 1.0 : 1.0 - o.momentum;
    EXPECT_LT((m - f * g0).abs().max().item<double>(), 1e-6);
  }
}

TEST(MuonTest, SecondStepUsesNesterovMomentum) {
  // With Nesterov off the second update orthogonalizes M₂ = βG₁ + G₂; with it on, G₂ + βM₂.
  torch::manual_seed(4);
  auto g1 = torch::randn({5, 7}), g2 = torch::randn({5, 7});
  auto run = [&](bool nesterov) {
    MuonOptions o;
    o.lr = 0.1;
    o.nesterov = nesterov;
    o.ns.bf16 = false;
    auto p = torch::zeros({5, 7});
    auto m = torch::zeros_like(p);
    torch::NoGradGuard ng;
    muon_update(p, g1, m, o.lr, o);
    auto before = p.clone();
    muon_update(p, g2, m, o.lr, o);
    return std::make_pair(p - before, o);
  };
  auto [d_plain, o] = run(false);
  auto [d_nest, o2] = run(true);
  const double scale = -o.lr * muon_shape_scale(o.variant, 5, 7);
  auto m2 = 0.95 * g1 + g2;
  EXPECT_LT((d_plain - scale * newton_schulz(m2, o.ns)).abs().max().item<double>(), 1e-5);
  EXPECT_LT((d_nest - scale * newton_schulz(g2 + 0.95 * m2, o.ns)).abs().max().item<double>(),
            1e-5);
  EXPECT_GT((d_plain - d_nest).abs().max().item<double>(), 1e-3);
}

TEST(OptimizerTest, WeightDecayIsAppliedOncePerStepWithTheUnscaledRate) {
  // Zero gradients: NS(0) = 0 and Adam's update is 0/(0 + ε) = 0, so only decay acts.
  for (auto rule : {UpdateRule::kAdamW, UpdateRule::kMuon}) {
    auto p = leaf(torch::ones({4, 8}));
    ParamGroup g;
    g.name = "w";
    g.names = {"w"};
    g.params = {p};
    if (rule == UpdateRule::kAdamW) {
      AdamWOptions o;
      o.lr = 0.1;
      o.weight_decay = 0.5;
      g.options = o;
    } else {
      MuonOptions o;
      o.lr = 0.1;
      o.weight_decay = 0.5;
      g.options = o;
    }
    Optimizer opt({g});
    opt.set_lr_multiplier(0.5);
    p.mutable_grad() = torch::zeros({4, 8});
    opt.step();
    EXPECT_FLOAT_EQ(p[0][0].item<float>(), 1.0f - 0.05f * 0.5f) << to_string(rule);
  }
}

TEST(OptimizerTest, PerGroupOptionsSurviveConstructionAndAct) {
  auto a = leaf(torch::ones({3, 4})), b = leaf(torch::ones({3, 4})), c = leaf(torch::ones({3, 4}));
  ParamGroup ga, gb, gc;
  ga.name = "fast";
  ga.names = {"a"};
  ga.params = {a};
  ga.options = AdamWOptions{0.3, 0.5, 0.6, 1e-6, 0.01};
  gb.name = "frozen";
  gb.names = {"b"};
  gb.params = {b};
  gb.options = AdamWOptions{0.0, 0.9, 0.999, 1e-8, 0.0};
  gc.name = "muon";
  gc.names = {"c"};
  gc.params = {c};
  MuonOptions mo;
  mo.lr = 0.07;
  mo.momentum = 0.8;
  mo.variant = MuonVariant::kOriginal;
  mo.ns.coefficients = NSCoefficients::kPolarExpress;
  gc.options = mo;
  Optimizer opt({ga, gb, gc});
  const auto& gs = opt.groups();
  ASSERT_EQ(gs.size(), 3u);
  EXPECT_EQ(gs[0].adamw().lr, 0.3);
  EXPECT_EQ(gs[0].adamw().beta1, 0.5);
  EXPECT_EQ(gs[0].adamw().beta2, 0.6);
  EXPECT_EQ(gs[0].adamw().eps, 1e-6);
  EXPECT_EQ(gs[0].adamw().weight_decay, 0.01);
  EXPECT_EQ(gs[1].adamw().lr, 0.0);
  EXPECT_EQ(gs[2].rule(), UpdateRule::kMuon);
  EXPECT_EQ(gs[2].muon().lr, 0.07);
  EXPECT_EQ(gs[2].muon().momentum, 0.8);
  EXPECT_EQ(gs[2].muon().variant, MuonVariant::kOriginal);
  EXPECT_EQ(gs[2].muon().ns.coefficients, NSCoefficients::kPolarExpress);
  for (auto* t : {&a, &b, &c}) t->mutable_grad() = torch::ones({3, 4});
  opt.step();
  EXPECT_NEAR(a[0][0].item<double>(), (1 - 0.3 * 0.01) - 0.3, 1e-5);  // first step ≈ lr·sign(g)
  EXPECT_EQ(b[0][0].item<float>(), 1.0f);                             // lr 0 did not move
  // Rank-1 all-ones gradient: NS gives ≈ u vᵀ with entries ≈ p(x)/√12; c moved by ≈ 0.07·that.
  EXPECT_LT(c[0][0].item<double>(), 1.0 - 0.01);
}

TEST(OptimizerTest, ConstructionRejectsBadGroups) {
  auto v = leaf(torch::ones({3}));
  ParamGroup g;
  g.name = "bad";
  g.options = MuonOptions{};
  g.names = {"v"};
  g.params = {v};
  EXPECT_THROW(Optimizer({g}), std::invalid_argument);  // Muon on 1-D
  g.options = AdamWOptions{};
  g.adamw().beta1 = 1.0;
  EXPECT_THROW(Optimizer({g}), std::invalid_argument);  // invalid option
  g.adamw().beta1 = 0.9;
  ParamGroup h = g;
  h.name = "dup";
  EXPECT_THROW(Optimizer({g, h}), std::invalid_argument);  // same parameter twice
  g.names = {};
  EXPECT_THROW(Optimizer({g}), std::invalid_argument);  // names/params mismatch
}

using test_support::micro_config;

// A deterministic periodic "corpus": a random string of period 23 over 32 symbols.
std::pair<torch::Tensor, torch::Tensor> synthetic_batch(int64_t step) {
  torch::manual_seed(1000);
  auto pattern = torch::randint(0, 32, {23}, torch::kInt64);
  auto gen = at::detail::createCPUGenerator(static_cast<uint64_t>(step) + 7);
  auto starts = torch::randint(0, 23, {8}, gen, torch::kInt64);
  auto pos = (starts.unsqueeze(1) + torch::arange(17, torch::kInt64).unsqueeze(0)) % 23;
  auto seq = pattern.index({pos});
  return {seq.slice(1, 0, 16), seq.slice(1, 1, 17)};
}

class LossDecreaseTest : public ::testing::TestWithParam<OptimizerChoice> {};

TEST_P(LossDecreaseTest, TinySyntheticCorpus) {
  torch::manual_seed(0);
  GPT model(micro_config());
  ParamGroupOptions o;
  o.optimizer = GetParam();
  o.model_dim = 16;
  if (o.optimizer == OptimizerChoice::kAdamW) o.matrix_lr = 3e-3;
  Optimizer opt(build_param_groups(*model, o));
  double first = 0, last = 0;
  for (int s = 0; s < 40; ++s) {
    auto [x, y] = synthetic_batch(s);
    opt.zero_grad();
    auto loss = model->loss(x, y);
    loss.backward();
    opt.step();
    if (s == 0) first = loss.item<double>();
    last = loss.item<double>();
  }
  std::cout << to_string(GetParam()) << ": loss " << first << " -> " << last << "\n";
  EXPECT_NEAR(first, std::log(32.0), 0.05);
  EXPECT_LT(last, 0.5 * first);
}

INSTANTIATE_TEST_SUITE_P(Optimizers, LossDecreaseTest,
                         ::testing::Values(OptimizerChoice::kAdamW, OptimizerChoice::kMuon,
                                           OptimizerChoice::kMuonPE));

std::map<std::string, torch::Tensor> params_of(const torch::nn::Module& m) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& p : m.named_parameters()) out[p.key()] = p.value().detach().clone();
  return out;
}

TEST(OptimizerTest, StateRoundTripGivesBitExactResume) {
  ParamGroupOptions o;
  o.optimizer = OptimizerChoice::kMuon;
  o.model_dim = 16;
  torch::manual_seed(0);
  GPT a(micro_config());
  Optimizer opt_a(build_param_groups(*a, o));
  auto train = [](GPT& m, Optimizer& opt, int from, int to) {
    for (int s = from; s < to; ++s) {
      auto [x, y] = synthetic_batch(s);
      opt.zero_grad();
      m->loss(x, y).backward();
      opt.set_lr_multiplier(1.0 - 0.05 * s);
      opt.step();
    }
  };
  train(a, opt_a, 0, 3);
  const auto saved_params = params_of(*a);
  const auto saved_state = opt_a.state_tensors();
  train(a, opt_a, 3, 6);

  torch::manual_seed(123);  // a different init, overwritten below
  GPT b(micro_config());
  {
    torch::NoGradGuard ng;
    for (auto& p : b->named_parameters()) p.value().copy_(saved_params.at(p.key()));
  }
  Optimizer opt_b(build_param_groups(*b, o));
  opt_b.load_state_tensors(saved_state);
  EXPECT_EQ(opt_b.steps_taken(), 3);
  train(b, opt_b, 3, 6);
  const auto pa = params_of(*a), pb = params_of(*b);
  for (const auto& [name, t] : pa) EXPECT_TRUE(torch::equal(t, pb.at(name))) << name;

  // Names are those the checkpoint documents.
  std::map<std::string, torch::Tensor> st(saved_state.begin(), saved_state.end());
  EXPECT_TRUE(st.count("muon/momentum/transformer.h.0.attn.c_q.weight"));
  EXPECT_TRUE(st.count("adamw/exp_avg_sq/transformer.wte.weight"));
  EXPECT_EQ(st.at("adamw/step/lm_head.weight").item<int64_t>(), 3);
}

TEST(OptimizerTest, LoadStateRejectsForeignEntries) {
  torch::manual_seed(0);
  GPT a(micro_config());
  ParamGroupOptions o;
  o.model_dim = 16;
  Optimizer opt(build_param_groups(*a, o));
  EXPECT_THROW(opt.load_state_tensors({{"adamw/exp_avg/nope", torch::zeros({1})}}),
               std::invalid_argument);
  EXPECT_THROW(opt.load_state_tensors(
                   {{"muon/momentum/transformer.h.0.attn.c_q.weight", torch::zeros({3, 3})}}),
               std::invalid_argument);
  EXPECT_THROW(opt.load_state_tensors(
                   {{"adamw/exp_avg/transformer.h.0.attn.c_q.weight", torch::zeros({16, 16})}}),
               std::invalid_argument);  // a Muon parameter
  EXPECT_THROW(opt.load_state_tensors(
                   {{"muon/momentum/transformer.h.0.attn.c_q.weight", torch::zeros({16, 16})}}),
               std::invalid_argument);  // no step entry: incomplete
}

TEST(OptimizerTest, ZeroGradClearsAndParametersWithoutGradAreSkipped) {
  auto a = leaf(torch::ones({2, 2})), b = leaf(torch::ones({2, 2}));
  ParamGroup g;
  g.name = "g";
  g.names = {"a", "b"};
  g.params = {a, b};
  Optimizer opt({g});
  a.mutable_grad() = torch::ones({2, 2});
  opt.step();
  EXPECT_NE(a[0][0].item<float>(), 1.0f);
  EXPECT_EQ(b[0][0].item<float>(), 1.0f);
  auto st = opt.state_tensors();
  EXPECT_EQ(st.size(), 4u);  // steps_taken + a's three entries
  opt.zero_grad();
  EXPECT_FALSE(a.grad().defined());
}

}  // namespace
}  // namespace muft::train
