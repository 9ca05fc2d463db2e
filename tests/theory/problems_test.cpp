#include "muft/theory/problems.h"

#include <gtest/gtest.h>

#include <set>

namespace muft::theory {
namespace {

// Hand case: W = [1 2], x = (1, 1), y = 1: residual 2, loss 2, gradient 2 x' = [2 2].
TEST(ProblemsTest, RegressionLossAndGradientByHand) {
  Eigen::VectorXd x(2), y(1);
  x << 1, 1;
  y << 1;
  const Regression p = Regression::single(x, y);
  Eigen::MatrixXd W(1, 2);
  W << 1, 2;
  EXPECT_DOUBLE_EQ(p.loss(W), 2.0);
  EXPECT_EQ(p.gradient(W), (Eigen::MatrixXd(1, 2) << 2, 2).finished());
  EXPECT_EQ(p.rows(), 1);
  EXPECT_EQ(p.cols(), 2);
}

// Property: the gradient matches central finite differences on random multi-sample problems.
TEST(ProblemsTest, GradientMatchesFiniteDifferences) {
  InstanceSampler smp(21);
  Regression p;
  p.X = smp.gaussian_matrix(5, 3);
  p.Y = smp.gaussian_matrix(4, 3);
  const Eigen::MatrixXd W = smp.gaussian_matrix(4, 5);
  const Eigen::MatrixXd G = p.gradient(W);
  constexpr double h = 1e-6;
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 5; ++j) {
      Eigen::MatrixXd Wp = W, Wm = W;
      Wp(i, j) += h;
      Wm(i, j) -= h;
      EXPECT_NEAR((p.loss(Wp) - p.loss(Wm)) / (2 * h), G(i, j), 1e-6);
    }
  }
}

TEST(ProblemsTest, ValidationRejectsBadInput) {
  Eigen::VectorXd zero = Eigen::VectorXd::Zero(3), y = Eigen::VectorXd::Ones(2);
  EXPECT_THROW(Regression::single(zero, y).validate(), std::invalid_argument);
  Regression mismatched;
  mismatched.X = Eigen::MatrixXd::Ones(3, 2);
  mismatched.Y = Eigen::MatrixXd::Ones(2, 1);
  EXPECT_THROW(mismatched.validate(), std::invalid_argument);
  Regression empty;
  EXPECT_THROW(empty.validate(), std::invalid_argument);
  Eigen::VectorXd nan_x = Eigen::VectorXd::Ones(2);
  nan_x(0) = std::nan("");
  EXPECT_THROW(Regression::single(nan_x, y).validate(), std::invalid_argument);
}

TEST(ProblemsTest, FineTuneAndLoraConsistency) {
  InstanceSampler smp(22);
  const FineTune ft = smp.fine_tune(4, 6, true);
  EXPECT_NO_THROW(ft.validate());
  EXPECT_NEAR(ft.old_loss(ft.W0), 0.0, 1e-24);  // W0 x = y by construction
  EXPECT_LT((ft.r0() - (ft.b - ft.W0 * ft.z)).norm(), 1e-15);
  for (LoraInit init : {LoraInit::kGaussian, LoraInit::kSparse}) {
    LoraSurrogate lo;
    lo.ft = ft;
    lo.A = smp.lora_factor(init, 3, 6, ft.z);
    EXPECT_NO_THROW(lo.validate());
    // The adapter problem is the residual problem with input u = A z.
    const Eigen::MatrixXd B = smp.gaussian_matrix(4, 3);
    EXPECT_NEAR(lo.adapter_task().loss(B), 0.5 * ((ft.W0 + B * lo.A) * ft.z - ft.b).squaredNorm(),
                1e-12);
  }
  EXPECT_EQ(smp.lora_factor(LoraInit::kIdentity, 6, 6, ft.z), Eigen::MatrixXd::Identity(6, 6));
  EXPECT_THROW(smp.lora_factor(LoraInit::kIdentity, 3, 6, ft.z), std::invalid_argument);
  LoraSurrogate dead;
  dead.ft = ft;
  dead.A = Eigen::MatrixXd::Zero(2, 6);
  EXPECT_THROW(dead.validate(), std::invalid_argument);
}

TEST(ProblemsTest, ShapesCoverAllCases) {
  bool tall = false, wide = false, m1 = false, n1 = false;
  for (auto [m, n] : InstanceSampler::shapes()) {
    tall |= m > n;
    wide |= m < n;
    m1 |= m == 1;
    n1 |= n == 1;
  }
  EXPECT_TRUE(tall && wide && m1 && n1);
  // Seeded: two samplers with one seed agree.
  InstanceSampler a(5), b(5);
  EXPECT_EQ(a.gaussian(7, true), b.gaussian(7, true));
}

}  // namespace
}  // namespace muft::theory
