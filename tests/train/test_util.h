#pragma once
// Helpers shared by the tests/train suites.

#include "muft/train/gpt.h"

namespace muft::train::test_support {

/// A GPT small enough that a forward/backward takes milliseconds: 2 layers, width 16,
/// 2 heads, context 16, vocabulary 32.
inline GPTConfig micro_config() {
  GPTConfig c;
  c.sequence_len = 16;
  c.vocab_size = 32;
  c.n_layer = 2;
  c.n_head = 2;
  c.n_embd = 16;
  return c;
}

}  // namespace muft::train::test_support
