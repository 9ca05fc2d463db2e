/// \file unpickler_test.cpp
/// The restricted unpickler and the state-dict flattening on hand-built
/// pickles: every value kind, memo and marks, the allowed globals, and the
/// inputs it must refuse (other globals, unknown opcodes, truncation, lying
/// lengths, recursion bombs, cycles).

#include "unpickler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "torch_state_dict.h"
#include "torch_writer.h"

namespace muft::checkpoint::detail {
namespace {

using testing::PickleBuilder;

Pickle run(const std::string& bytes) {
  return unpickle(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), "test.pkl");
}

// The message of the error unpickling bytes throws (empty when it does not throw).
std::string error_of(const std::string& bytes) {
  try {
    const Pickle p = run(bytes);
    flatten_state_dict(p, "test.pkl");
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

// A string literal with its embedded NUL bytes.
template <std::size_t N>
std::string lit(const char (&s)[N]) {
  return std::string(s, N - 1);
}

const PyValue& root(const Pickle& p) {
  return p.values[p.root];
}

TEST(UnpicklerTest, ScalarsStringsAndContainers) {
  PickleBuilder b;
  b.proto().mark();
  b.integer(7).integer(-5).integer(300000).integer(int64_t{1} << 40).real(-2.5);
  b.str("héllo").none().boolean(true);
  b.empty_list().integer(1).append();
  b.tuple();
  const Pickle p = run(b.stop().bytes());
  const PyValue& t = root(p);
  ASSERT_EQ(t.kind, PyKind::Tuple);
  ASSERT_EQ(t.items.size(), 9u);
  EXPECT_EQ(p.values[t.items[0]].i, 7);
  EXPECT_EQ(p.values[t.items[1]].i, -5);  // BININT sign
  EXPECT_EQ(p.values[t.items[2]].i, 300000);
  EXPECT_EQ(p.values[t.items[3]].i, int64_t{1} << 40);  // LONG1
  EXPECT_EQ(p.values[t.items[4]].f, -2.5);              // big-endian BINFLOAT
  EXPECT_EQ(p.values[t.items[5]].s, "héllo");
  EXPECT_EQ(p.values[t.items[6]].kind, PyKind::None);
  EXPECT_EQ(p.values[t.items[7]].i, 1);
  EXPECT_EQ(p.values[t.items[8]].items.size(), 1u);
  EXPECT_EQ(t.depth, 3);  // tuple > list > int
}

TEST(UnpicklerTest, NegativeAndWideLong1) {
  // LONG1 of 2 bytes 0xff 0x7f = 32767; of 1 byte 0x80 = -128; 9 bytes: wider than int64.
  const std::string bytes = std::string("\x80\x02(") + "\x8a\x02\xff\x7f" + "\x8a\x01\x80" +
                            "\x8a\x09" + std::string(9, '\x01') + "t.";
  const Pickle p = run(bytes);
  EXPECT_EQ(p.values[root(p).items[0]].i, 32767);
  EXPECT_EQ(p.values[root(p).items[1]].i, -128);
  EXPECT_EQ(p.values[root(p).items[2]].kind, PyKind::BigInt);
}

TEST(UnpicklerTest, MemoSharesValues) {
  PickleBuilder b;
  b.proto().empty_dict().put(0).mark().str("a").empty_list().put(300).str("b").get(300);
  b.setitems().stop();
  const Pickle p = run(b.bytes());
  const PyValue& d = root(p);
  ASSERT_EQ(d.items.size(), 4u);
  EXPECT_EQ(d.items[1], d.items[3]);  // the same list object under two keys
}

TEST(UnpicklerTest, TensorStorageAndParameter) {
  PickleBuilder b;
  b.proto().empty_dict().mark();
  b.str("w").tensor("FloatStorage", "0", 12, 4, {2, 3}, {1, 2});
  b.str("p").global("torch._utils", "_rebuild_parameter").mark();
  b.tensor("FloatStorage", "0", 12, 0, {4}, {1}).boolean(true);
  b.global("collections", "OrderedDict").empty_tuple().reduce().tuple().reduce();
  b.setitems().stop();
  const Pickle p = run(b.bytes());
  ASSERT_EQ(p.storages.size(), 1u);  // the key "0" twice is one storage
  EXPECT_EQ(p.storages[0].type, "torch.FloatStorage");
  EXPECT_EQ(p.storages[0].numel, 12);
  EXPECT_EQ(p.storages[0].location, "cpu");
  ASSERT_EQ(p.tensors.size(), 2u);
  EXPECT_EQ(p.tensors[0].offset, 4);
  EXPECT_EQ(p.tensors[0].sizes, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(p.tensors[0].strides, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(p.values[root(p).items[3]].kind, PyKind::Tensor);  // the Parameter is its data
  EXPECT_EQ(p.values[root(p).items[3]].i, 1);
}

TEST(UnpicklerTest, Protocol4Opcodes) {
  // FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL (torch.save(..., pickle_protocol=4)).
  std::string b = "\x80\x04\x95";
  b += std::string("\x10\0\0\0\0\0\0\0", 8);
  b += "\x8c\x0b"
       "collections"
       "\x94"
       "\x8c\x0b"
       "OrderedDict"
       "\x94"
       "\x93"
       "\x94"
       ")R";
  b += "\x8c\x01k"
       "K\x05"
       "s.";
  const Pickle p = run(b);
  ASSERT_EQ(root(p).kind, PyKind::Dict);
  ASSERT_EQ(root(p).items.size(), 2u);
  EXPECT_EQ(p.values[root(p).items[0]].s, "k");
}

TEST(UnpicklerTest, RefusesOtherGlobalsByName) {
  // What a malicious checkpoint does: os.system('...') via REDUCE.
  PickleBuilder b;
  b.proto().global("os", "system").str("touch /tmp/pwned").tuple1().reduce().stop();
  const std::string err = error_of(b.bytes());
  EXPECT_NE(err.find("global 'os.system' is not allowed"), std::string::npos) << err;
  EXPECT_NE(err.find("never imports or runs code"), std::string::npos) << err;
  PickleBuilder c;  // STACK_GLOBAL spelling, protocol 4
  c.proto(4).str("builtins").str("eval").op(0x93).stop();
  EXPECT_NE(error_of(c.bytes()).find("'builtins.eval'"), std::string::npos);
  PickleBuilder i;  // INST names its class inline
  i.proto().mark().op('i').raw("subprocess\nPopen\n").stop();
  EXPECT_NE(error_of(i.bytes()).find("'subprocess.Popen'"), std::string::npos);
  // An allowed global that builds nothing muft reads is refused too when called.
  PickleBuilder s;
  s.proto().global("torch", "FloatStorage").empty_tuple().reduce().stop();
  EXPECT_NE(error_of(s.bytes()).find("builds nothing"), std::string::npos);
}

TEST(UnpicklerTest, RefusesUnknownAndUnsupportedOpcodes) {
  EXPECT_NE(error_of("\x80\x02\xff.").find("unknown opcode 0xff"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02S'abc'\n.").find("opcode STRING is not supported"),
            std::string::npos);
  EXPECT_NE(error_of("\x80\x02\x82\x01.").find("EXT1"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02P1\n.").find("PERSID"), std::string::npos);
  EXPECT_NE(error_of("\x80\x06.").find("protocol 6"), std::string::npos);
}

TEST(UnpicklerTest, RefusesTruncationAndLyingLengths) {
  PickleBuilder b;
  b.proto().empty_dict().mark().str("w").tensor("FloatStorage", "0", 4, 0, {2, 2}, {2, 1});
  b.setitems().stop();
  const std::string good = b.bytes();
  ASSERT_EQ(error_of(good), "");
  for (std::size_t n = 0; n < good.size(); ++n) {  // every proper prefix
    EXPECT_NE(error_of(good.substr(0, n)), "") << "prefix of " << n << " bytes accepted";
  }
  // BINUNICODE / BINBYTES8 / LONG4 declaring far more bytes than present.
  EXPECT_NE(error_of(std::string("\x80\x02X\xff\xff\xff\xff", 7) + "ab.").find("more bytes"),
            std::string::npos);
  EXPECT_NE(error_of(std::string("\x80\x02\x8e") + std::string(8, '\xff') + ".").find("more bytes"),
            std::string::npos);
  EXPECT_NE(error_of(std::string("\x80\x02\x8b\xff\xff\xff\x7f.")).find("more bytes"),
            std::string::npos);
}

TEST(UnpicklerTest, RefusesStackMisuse) {
  EXPECT_NE(error_of("\x80\x02.").find("empty stack"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02t.").find("without a MARK"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02h\x07.").find("never stored"), std::string::npos);
  EXPECT_NE(error_of(lit("\x80\x02K\x00K\x01K\x02s.")).find("applies to a int, not a dict"),
            std::string::npos);
  EXPECT_NE(error_of("\x80\x02(K\x01}u.").find("needs a value"), std::string::npos);
  // A MARK hides what is below it: SETITEM cannot reach the dict.
  EXPECT_NE(error_of("\x80\x02}(K\x01K\x02s.").find("needs a value"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02K\x01").find("without a STOP"), std::string::npos);
}

TEST(UnpicklerTest, RecursionBombOfNestedTuplesIsRefusedWhileBuilding) {
  std::string b = "\x80\x02)";
  for (int i = 0; i < 200000; ++i) b += '\x85';  // TUPLE1 of TUPLE1 of ... ()
  b += '.';
  // Refused while the tuples are built, before any walk over them.
  std::string err;
  try {
    run(b);
  } catch (const std::runtime_error& e) {
    err = e.what();
  }
  EXPECT_NE(err.find("deeper than 100 levels (a recursion bomb?)"), std::string::npos) << err;
  // Nesting exactly at the limit is fine.
  std::string ok = "\x80\x02)";
  for (int i = 1; i < kMaxPickleDepth; ++i) ok += '\x85';
  EXPECT_EQ(root(run(ok + ".")).depth, kMaxPickleDepth);
}

TEST(UnpicklerTest, DeepChainBuiltByMutationIsRefusedWhenFlattened) {
  // Lists appended into lists after they were stored: each list's recorded
  // depth is stale, so only the flattening walk sees the real depth.
  PickleBuilder b;
  b.proto().empty_dict().str("chain").empty_list().put(0).setitem();
  for (uint32_t i = 1; i <= 300; ++i) b.get(i - 1).empty_list().put(i).append().op('0');
  b.stop();
  const std::string err = error_of(b.bytes());
  EXPECT_NE(err.find("deeper than 100 levels"), std::string::npos) << err;
}

TEST(UnpicklerTest, CyclesAndSharedContainersAreWalkedOnce) {
  // l = [tensor]; l.append(l); d = {'a': l, 'b': (l, l)}: a cycle and a DAG.
  PickleBuilder b;
  b.proto().empty_dict().put(0);
  b.str("a").empty_list().put(1).tensor("FloatStorage", "0", 4, 0, {2, 2}, {2, 1}).append();
  b.get(1).append().setitem();  // l contains itself
  b.str("b").get(1).get(1).tuple2().setitem().stop();
  const Pickle p = run(b.bytes());
  const auto named = flatten_state_dict(p, "t");
  ASSERT_EQ(named.size(), 1u);
  EXPECT_EQ(named[0].name, "a.0");
  // A DAG bomb: t_k = (t_{k-1}, t_{k-1}) for 60 levels has 2^60 paths.
  PickleBuilder d;
  d.proto().empty_dict().str("x").tensor("FloatStorage", "0", 4, 0, {2, 2}, {2, 1}).put(0);
  for (uint32_t k = 1; k <= 60; ++k) d.get(k - 1).get(k - 1).tuple2().put(k).op('0');
  d.op('0').get(60).setitem().stop();
  const auto shared = flatten_state_dict(run(d.bytes()), "t");
  // Each tuple is followed once (its second item is skipped), except that the
  // tensor itself, a leaf, is named under both items of the innermost tuple.
  ASSERT_EQ(shared.size(), 2u);
  EXPECT_EQ(std::count(shared[0].name.begin(), shared[0].name.end(), '.'), 60);
  EXPECT_EQ(shared[0].name.substr(shared[0].name.size() - 2), ".0");
  EXPECT_EQ(shared[1].name.substr(shared[1].name.size() - 2), ".1");
}

TEST(UnpicklerTest, RefusesBadPersistentIdsAndTensorArguments) {
  PickleBuilder b;  // a persistent id that is not a storage tuple
  b.proto().str("nope").persid().stop();
  EXPECT_NE(error_of(b.bytes()).find("persistent id"), std::string::npos);
  PickleBuilder c;  // the same key declared with two sizes
  c.proto().mark().tensor("FloatStorage", "0", 4, 0, {4}, {1});
  c.tensor("FloatStorage", "0", 8, 0, {4}, {1}).tuple().stop();
  EXPECT_NE(error_of(c.bytes()).find("declared twice"), std::string::npos);
  PickleBuilder d;  // sizes and strides of different rank
  d.proto().tensor("FloatStorage", "0", 4, 0, {2, 2}, {1}).stop();
  EXPECT_NE(error_of(d.bytes()).find("dimensions but stride"), std::string::npos);
  PickleBuilder e;  // negative storage size
  e.proto().tensor("FloatStorage", "0", -3, 0, {1}, {1}).stop();
  EXPECT_NE(error_of(e.bytes()).find("negative size"), std::string::npos);
}

TEST(StateDictTest, NestedCheckpointsAndSkippedEntries) {
  // {'epoch': 3, 'model_state': {'enc': {'w': T}, 'layers': [T, T], 'cfg': {'lr': 0.1}},
  //  'optimizer': {'state': {0: {'exp_avg': T}}}}
  PickleBuilder b;
  b.proto().empty_dict().mark();
  b.str("epoch").integer(3);
  b.str("model_state").empty_dict().mark();
  b.str("enc").empty_dict().str("w").tensor("FloatStorage", "0", 4, 0, {2, 2}, {2, 1}).setitem();
  b.str("layers").mark().tensor("FloatStorage", "1", 4, 0, {2, 2}, {2, 1});
  b.tensor("HalfStorage", "2", 4, 0, {2, 2}, {2, 1}).op('l');
  b.str("cfg").empty_dict().str("lr").real(0.1).setitem();
  b.setitems();
  b.str("optimizer").empty_dict().str("state").empty_dict().integer(0).empty_dict();
  b.str("exp_avg").tensor("FloatStorage", "3", 4, 0, {2, 2}, {2, 1});
  b.setitem().setitem().setitem();
  b.setitems().stop();
  const auto named = flatten_state_dict(run(b.bytes()), "t");
  ASSERT_EQ(named.size(), 3u);
  EXPECT_EQ(named[0].name, "enc.w");
  EXPECT_EQ(named[1].name, "layers.0");
  EXPECT_EQ(named[2].name, "layers.1");
}

TEST(StateDictTest, KeyPreferenceAndTrainingStateSkipped) {
  // No direct tensor at the top, no known key: flatten all but the optimizer.
  PickleBuilder b;
  b.proto().empty_dict().mark();
  b.str("encoder").empty_dict().str("w").tensor("FloatStorage", "0", 4, 0, {2, 2}, {2, 1});
  b.setitem();
  b.str("optimizer").empty_dict().str("m").tensor("FloatStorage", "1", 4, 0, {2, 2}, {2, 1});
  b.setitem().setitems().stop();
  auto named = flatten_state_dict(run(b.bytes()), "t");
  ASSERT_EQ(named.size(), 1u);
  EXPECT_EQ(named[0].name, "encoder.w");
  // 'model' wins over 'ema' (both present); int keys are names.
  PickleBuilder c;
  c.proto().empty_dict().mark();
  c.str("ema").empty_dict().str("e").tensor("FloatStorage", "0", 4, 0, {2, 2}, {2, 1});
  c.setitem();
  c.str("model").empty_dict().integer(7).tensor("FloatStorage", "1", 4, 0, {2, 2}, {2, 1});
  c.setitem().setitems().stop();
  named = flatten_state_dict(run(c.bytes()), "t");
  ASSERT_EQ(named.size(), 1u);
  EXPECT_EQ(named[0].name, "7");
  // Direct tensors at the top: the root is the state dict, nested ones dotted.
  PickleBuilder d;
  d.proto().empty_dict().mark();
  d.str("w").tensor("FloatStorage", "0", 4, 0, {2, 2}, {2, 1});
  d.str("model").empty_dict().str("v").tensor("FloatStorage", "1", 4, 0, {2, 2}, {2, 1});
  d.setitem().setitems().stop();
  named = flatten_state_dict(run(d.bytes()), "t");
  ASSERT_EQ(named.size(), 2u);
  EXPECT_EQ(named[0].name, "model.v");
  EXPECT_EQ(named[1].name, "w");
}

TEST(StateDictTest, OptimizerStateDictHoldsNoWeights) {
  // torch.save(optimizer.state_dict()): {'state': {0: {'exp_avg': T}}, 'param_groups': [...]}.
  PickleBuilder b;
  b.proto().empty_dict().mark();
  b.str("state").empty_dict().integer(0).empty_dict().str("exp_avg");
  b.tensor("FloatStorage", "0", 4, 0, {2, 2}, {2, 1}).setitem().setitem();
  b.str("param_groups").empty_list().empty_dict().str("lr").real(0.02).setitem().append();
  b.setitems().stop();
  EXPECT_TRUE(flatten_state_dict(run(b.bytes()), "t").empty());
  PickleBuilder c;  // 'state' alone is an ordinary key
  c.proto().empty_dict().str("state").empty_dict().integer(0);
  c.tensor("FloatStorage", "0", 4, 0, {2, 2}, {2, 1}).setitem().setitem().stop();
  const auto named = flatten_state_dict(run(c.bytes()), "t");
  ASSERT_EQ(named.size(), 1u);
  EXPECT_EQ(named[0].name, "state.0");
}

TEST(StateDictTest, DuplicateFlattenedNamesAndNonContainers) {
  PickleBuilder b;
  b.proto().empty_dict().mark();
  b.str("a.b").tensor("FloatStorage", "0", 4, 0, {2, 2}, {2, 1});
  b.str("a").empty_dict().str("b").tensor("FloatStorage", "1", 4, 0, {2, 2}, {2, 1}).setitem();
  b.setitems().stop();
  EXPECT_NE(error_of(b.bytes()).find("two tensors get the name 'a.b'"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02K\x05.").find("not a state dict"), std::string::npos);
  PickleBuilder t;
  t.proto().tensor("DoubleStorage", "0", 4, 0, {2, 2}, {2, 1}).stop();
  const auto named = flatten_state_dict(run(t.bytes()), "t");
  ASSERT_EQ(named.size(), 1u);
  EXPECT_EQ(named[0].name, "tensor");
}

TEST(UnpicklerTest, StorageTypesAndOpcodeNames) {
  EXPECT_EQ(torch_storage_type("torch.BFloat16Storage")->dtype, DType::BF16);
  EXPECT_EQ(torch_storage_type("torch.LongStorage")->element_size, 8u);
  EXPECT_FALSE(torch_storage_type("torch.ComplexFloatStorage").has_value());
  EXPECT_FALSE(torch_storage_type("os.system").has_value());
  EXPECT_STREQ(pickle_opcode_name('X'), "BINUNICODE");
  EXPECT_EQ(pickle_opcode_name(0xff), nullptr);
}

}  // namespace
}  // namespace muft::checkpoint::detail
