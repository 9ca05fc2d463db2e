// The restricted unpickler (unpickler.h). Opcode semantics follow CPython's
// Lib/pickletools.py, which documents every opcode of protocols 0-5; only the
// data-building subset is implemented, and calls are limited to the allowed
// globals, each of which builds a value instead of running code.

#include "unpickler.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <unordered_map>

#include "text_util.h"

namespace muft::checkpoint::detail {
namespace {

const char* const kRebuildTensor = "torch._utils._rebuild_tensor_v2";
const char* const kRebuildParameter = "torch._utils._rebuild_parameter";
const char* const kRebuildParameterState = "torch._utils._rebuild_parameter_with_state";
const char* const kOrderedDict = "collections.OrderedDict";

struct StorageClass {
  const char* name;
  DType dtype;
  std::size_t size;
};
const StorageClass kStorageClasses[] = {
    {"torch.DoubleStorage", DType::F64, 8}, {"torch.FloatStorage", DType::F32, 4},
    {"torch.HalfStorage", DType::F16, 2},   {"torch.BFloat16Storage", DType::BF16, 2},
    {"torch.LongStorage", DType::I64, 8},   {"torch.IntStorage", DType::I32, 4},
    {"torch.ShortStorage", DType::I16, 2},  {"torch.CharStorage", DType::I8, 1},
    {"torch.ByteStorage", DType::U8, 1},    {"torch.BoolStorage", DType::Bool, 1},
};

bool allowed_global(const std::string& name) {
  return name == kOrderedDict || name == kRebuildTensor || name == kRebuildParameter ||
         name == kRebuildParameterState || torch_storage_type(name).has_value();
}

struct OpcodeName {
  unsigned char op;
  const char* name;
};
const OpcodeName kOpcodeNames[] = {
    {'(', "MARK"},
    {'.', "STOP"},
    {'0', "POP"},
    {'1', "POP_MARK"},
    {'2', "DUP"},
    {'F', "FLOAT"},
    {'I', "INT"},
    {'J', "BININT"},
    {'K', "BININT1"},
    {'L', "LONG"},
    {'M', "BININT2"},
    {'N', "NONE"},
    {'P', "PERSID"},
    {'Q', "BINPERSID"},
    {'R', "REDUCE"},
    {'S', "STRING"},
    {'T', "BINSTRING"},
    {'U', "SHORT_BINSTRING"},
    {'V', "UNICODE"},
    {'X', "BINUNICODE"},
    {'a', "APPEND"},
    {'b', "BUILD"},
    {'c', "GLOBAL"},
    {'d', "DICT"},
    {'}', "EMPTY_DICT"},
    {'e', "APPENDS"},
    {'g', "GET"},
    {'h', "BINGET"},
    {'i', "INST"},
    {'j', "LONG_BINGET"},
    {'l', "LIST"},
    {']', "EMPTY_LIST"},
    {'o', "OBJ"},
    {'p', "PUT"},
    {'q', "BINPUT"},
    {'r', "LONG_BINPUT"},
    {'s', "SETITEM"},
    {'t', "TUPLE"},
    {')', "EMPTY_TUPLE"},
    {'u', "SETITEMS"},
    {'G', "BINFLOAT"},
    {0x80, "PROTO"},
    {0x81, "NEWOBJ"},
    {0x82, "EXT1"},
    {0x83, "EXT2"},
    {0x84, "EXT4"},
    {0x85, "TUPLE1"},
    {0x86, "TUPLE2"},
    {0x87, "TUPLE3"},
    {0x88, "NEWTRUE"},
    {0x89, "NEWFALSE"},
    {0x8a, "LONG1"},
    {0x8b, "LONG4"},
    {'B', "BINBYTES"},
    {'C', "SHORT_BINBYTES"},
    {0x8c, "SHORT_BINUNICODE"},
    {0x8d, "BINUNICODE8"},
    {0x8e, "BINBYTES8"},
    {0x8f, "EMPTY_SET"},
    {0x90, "ADDITEMS"},
    {0x91, "FROZENSET"},
    {0x92, "NEWOBJ_EX"},
    {0x93, "STACK_GLOBAL"},
    {0x94, "MEMOIZE"},
    {0x95, "FRAME"},
    {0x96, "BYTEARRAY8"},
    {0x97, "NEXT_BUFFER"},
    {0x98, "READONLY_BUFFER"},
};

const char* kind_name(PyKind k) {
  switch (k) {
    case PyKind::None:
      return "None";
    case PyKind::Bool:
      return "bool";
    case PyKind::Int:
    case PyKind::BigInt:
      return "int";
    case PyKind::Float:
      return "float";
    case PyKind::Str:
      return "str";
    case PyKind::Bytes:
      return "bytes";
    case PyKind::Tuple:
      return "tuple";
    case PyKind::List:
      return "list";
    case PyKind::Dict:
      return "dict";
    case PyKind::Set:
      return "set";
    case PyKind::Global:
      return "global";
    case PyKind::Storage:
      return "storage";
    case PyKind::Tensor:
      return "tensor";
  }
  return "?";
}

class Machine {
 public:
  Machine(const unsigned char* data, std::size_t size, const std::string& where)
      : p_(data), size_(size), where_(where) {}

  Pickle run() {
    while (true) {
      if (pos_ >= size_) fail_at(size_, "pickle ends without a STOP opcode (truncated?)");
      op_pos_ = pos_;
      const unsigned char op = p_[pos_++];
      if (op == '.') {
        out_.root = pop();
        return std::move(out_);
      }
      step(op);
    }
  }

 private:
  // ---- errors ----
  [[noreturn]] void fail_at(std::size_t at, const std::string& why) const {
    throw std::runtime_error(one_line(fmt::format("{}: {} (at byte {})", where_, why, at)));
  }
  [[noreturn]] void fail(const std::string& why) const { fail_at(op_pos_, why); }
  std::string op_text() const {
    const unsigned char op = p_[op_pos_];
    const char* name = pickle_opcode_name(op);
    return name ? fmt::format("opcode {}", name) : fmt::format("opcode 0x{:02x}", op);
  }

  // ---- input ----
  const unsigned char* take(uint64_t n) {
    if (n > size_ - pos_) {
      fail(fmt::format("{} needs {} more bytes, the pickle has {} left (truncated or lying length)",
                       op_text(), n, size_ - pos_));
    }
    const unsigned char* at = p_ + pos_;
    pos_ += static_cast<std::size_t>(n);
    return at;
  }
  uint64_t le(int n) {
    const unsigned char* b = take(static_cast<uint64_t>(n));
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | b[i];
    return v;
  }
  std::string line() {
    const void* nl = std::memchr(p_ + pos_, '\n', size_ - pos_);
    if (!nl) fail(op_text() + ": argument line has no newline (truncated?)");
    const auto* end = static_cast<const unsigned char*>(nl);
    std::string s(reinterpret_cast<const char*>(p_ + pos_),
                  static_cast<std::size_t>(end - (p_ + pos_)));
    pos_ = static_cast<std::size_t>(end - p_) + 1;
    return s;
  }

  // ---- values ----
  uint32_t make(PyValue v) {
    if (v.depth > kMaxPickleDepth) {
      fail(fmt::format("containers nest deeper than {} levels (a recursion bomb?)",
                       kMaxPickleDepth));
    }
    if (out_.values.size() >= kMaxPickleValues) {
      fail(fmt::format("pickle builds more than {} values", kMaxPickleValues));
    }
    out_.values.push_back(std::move(v));
    return static_cast<uint32_t>(out_.values.size() - 1);
  }
  uint32_t make_scalar(PyKind k, int64_t i = 0) {
    PyValue v;
    v.kind = k;
    v.i = i;
    return make(std::move(v));
  }
  uint32_t make_container(PyKind k, std::vector<uint32_t> items) {
    PyValue v;
    v.kind = k;
    for (uint32_t it : items) v.depth = std::max(v.depth, out_.values[it].depth + 1);
    v.items = std::move(items);
    return make(std::move(v));
  }
  uint32_t make_text(PyKind k, const unsigned char* b, uint64_t n) {
    PyValue v;
    v.kind = k;
    v.s.assign(reinterpret_cast<const char*>(b), static_cast<std::size_t>(n));
    return make(std::move(v));
  }
  // Adds items to a mutable container, keeping its recorded depth current.
  void extend(uint32_t target, const std::vector<uint32_t>& items) {
    int d = out_.values[target].depth;
    for (uint32_t it : items) d = std::max(d, out_.values[it].depth + 1);
    if (d > kMaxPickleDepth) {
      fail(fmt::format("containers nest deeper than {} levels (a recursion bomb?)",
                       kMaxPickleDepth));
    }
    PyValue& v = out_.values[target];
    v.depth = d;
    v.items.insert(v.items.end(), items.begin(), items.end());
  }
  const PyValue& val(uint32_t i) const { return out_.values[i]; }

  // ---- stack ----
  uint32_t pop() {
    if (stack_.size() <= floor()) fail(op_text() + " pops from an empty stack");
    const uint32_t v = stack_.back();
    stack_.pop_back();
    return v;
  }
  uint32_t top() const {
    if (stack_.size() <= floor()) fail(op_text() + " needs a value on the stack");
    return stack_.back();
  }
  std::size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  std::vector<uint32_t> pop_mark() {
    if (marks_.empty()) fail(op_text() + " without a MARK");
    const std::size_t m = marks_.back();
    marks_.pop_back();
    std::vector<uint32_t> items(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return items;
  }
  void push(uint32_t v) {
    if (stack_.size() >= kMaxPickleValues) {
      fail(fmt::format("pickle stack grows beyond {} entries", kMaxPickleValues));
    }
    stack_.push_back(v);
  }

  void memo_put(uint64_t key) { memo_[key] = top(); }
  void memo_get(uint64_t key) {
    const auto it = memo_.find(key);
    if (it == memo_.end())
      fail(fmt::format("{} of memo key {} that was never stored", op_text(), key));
    push(it->second);
  }

  // ---- globals and calls ----
  uint32_t make_global(const std::string& module, const std::string& name) {
    const std::string full = module + "." + name;
    if (!allowed_global(full)) {
      fail(fmt::format(
          "global '{}' is not allowed: muft's reader never imports or runs code named by a pickle; "
          "it only rebuilds tensors, storages and containers (collections.OrderedDict, "
          "torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter, torch.*Storage)",
          full));
    }
    PyValue v;
    v.kind = PyKind::Global;
    v.s = full;
    return make(std::move(v));
  }

  int64_t int_arg(uint32_t v, const char* what) const {
    if (val(v).kind != PyKind::Int && val(v).kind != PyKind::Bool) {
      fail(fmt::format("{} must be an int, got {}", what, kind_name(val(v).kind)));
    }
    return val(v).i;
  }
  std::vector<int64_t> int_tuple(uint32_t v, const char* what) const {
    if (val(v).kind != PyKind::Tuple && val(v).kind != PyKind::List) {
      fail(fmt::format("{} must be a tuple of ints, got {}", what, kind_name(val(v).kind)));
    }
    std::vector<int64_t> out;
    for (uint32_t it : val(v).items) out.push_back(int_arg(it, what));
    return out;
  }

  uint32_t call(uint32_t callable, uint32_t args_v) {
    if (val(callable).kind != PyKind::Global) {
      fail(fmt::format("{} calls a {}, not an allowed global", op_text(),
                       kind_name(val(callable).kind)));
    }
    if (val(args_v).kind != PyKind::Tuple) {
      fail(fmt::format("{} arguments are a {}, not a tuple", op_text(),
                       kind_name(val(args_v).kind)));
    }
    const std::string name = val(callable).s;
    const std::vector<uint32_t> args = val(args_v).items;
    if (name == kOrderedDict) {
      if (!args.empty()) fail("collections.OrderedDict is called with arguments (only () is read)");
      return make_container(PyKind::Dict, {});
    }
    if (name == kRebuildParameter || name == kRebuildParameterState) {
      if (args.size() < 3 || val(args[0]).kind != PyKind::Tensor) {
        fail(name + " expects (tensor, requires_grad, hooks[, state])");
      }
      return args[0];  // a Parameter is its data for reading
    }
    if (name == kRebuildTensor) {
      if (args.size() < 6 || args.size() > 7) {
        fail(fmt::format("{} expects 6 or 7 arguments, got {}", name, args.size()));
      }
      if (val(args[0]).kind != PyKind::Storage) {
        fail(fmt::format("{}: first argument is a {}, not a storage", name,
                         kind_name(val(args[0]).kind)));
      }
      PickleTensor t;
      t.storage = static_cast<uint32_t>(val(args[0]).i);
      t.offset = int_arg(args[1], "tensor storage offset");
      t.sizes = int_tuple(args[2], "tensor size");
      t.strides = int_tuple(args[3], "tensor stride");
      if (t.sizes.size() != t.strides.size()) {
        fail(fmt::format("tensor size has {} dimensions but stride {}", t.sizes.size(),
                         t.strides.size()));
      }
      out_.tensors.push_back(std::move(t));
      return make_scalar(PyKind::Tensor, static_cast<int64_t>(out_.tensors.size() - 1));
    }
    fail(fmt::format("{} calls '{}', which builds nothing muft reads", op_text(), name));
  }

  // BINPERSID: torch's persistent id ('storage', class, key, location, numel).
  uint32_t persistent_load(uint32_t pid) {
    const PyValue& t = val(pid);
    if (t.kind != PyKind::Tuple || t.items.size() != 5 || val(t.items[0]).kind != PyKind::Str ||
        val(t.items[0]).s != "storage") {
      fail("persistent id is not ('storage', type, key, location, numel)");
    }
    const PyValue& type = val(t.items[1]);
    if (type.kind != PyKind::Global || !torch_storage_type(type.s)) {
      fail("persistent id names no storage class");
    }
    if (val(t.items[2]).kind != PyKind::Str || val(t.items[3]).kind != PyKind::Str) {
      fail("persistent id key and location must be strings");
    }
    PickleStorage s;
    s.type = type.s;
    s.key = val(t.items[2]).s;
    s.location = val(t.items[3]).s;
    s.numel = int_arg(t.items[4], "storage size");
    if (s.numel < 0) fail(fmt::format("storage '{}' has negative size {}", s.key, s.numel));
    const auto it = storage_of_key_.find(s.key);
    std::size_t index;
    if (it != storage_of_key_.end()) {
      const PickleStorage& old = out_.storages[it->second];
      if (old.type != s.type || old.numel != s.numel) {
        fail(fmt::format("storage '{}' is declared twice as {}[{}] and {}[{}]", s.key, old.type,
                         old.numel, s.type, s.numel));
      }
      index = it->second;
    } else {
      index = out_.storages.size();
      storage_of_key_[s.key] = index;
      out_.storages.push_back(std::move(s));
    }
    return make_scalar(PyKind::Storage, static_cast<int64_t>(index));
  }

  int64_t long_bytes(const unsigned char* b, uint64_t n, bool* fits) {
    *fits = n <= 8;
    if (n == 0 || n > 8) return 0;
    uint64_t v = 0;
    for (uint64_t i = n; i-- > 0;) v = (v << 8) | b[i];
    if (n < 8 && (b[n - 1] & 0x80)) v |= ~uint64_t{0} << (8 * n);  // sign-extend
    int64_t out;
    std::memcpy(&out, &v, 8);
    return out;
  }

  PyValue& mutable_top(PyKind want, const char* what) {
    const uint32_t t = top();
    if (out_.values[t].kind != want) {
      fail(fmt::format("{} applies to a {}, not a {}", op_text(), kind_name(out_.values[t].kind),
                       what));
    }
    return out_.values[t];
  }

  void step(unsigned char op) {
    switch (op) {
      case 0x80: {  // PROTO
        const uint64_t v = le(1);
        if (v > 5) fail(fmt::format("pickle protocol {} is newer than 5", v));
        return;
      }
      case 0x95:  // FRAME: a length hint; the data follow inline
        le(8);
        return;
      case '(':
        if (marks_.size() >= 100'000) fail("too many nested MARKs");
        marks_.push_back(stack_.size());
        return;
      case '0':
        pop();
        return;
      case '1':
        pop_mark();
        return;
      case '2':
        push(top());
        return;
      case 'N':
        push(make_scalar(PyKind::None));
        return;
      case 0x88:
        push(make_scalar(PyKind::Bool, 1));
        return;
      case 0x89:
        push(make_scalar(PyKind::Bool, 0));
        return;
      case 'J': {
        const uint32_t u = static_cast<uint32_t>(le(4));
        int32_t v;
        std::memcpy(&v, &u, 4);
        push(make_scalar(PyKind::Int, v));
        return;
      }
      case 'K':
        push(make_scalar(PyKind::Int, static_cast<int64_t>(le(1))));
        return;
      case 'M':
        push(make_scalar(PyKind::Int, static_cast<int64_t>(le(2))));
        return;
      case 0x8a:
      case 0x8b: {  // LONG1 / LONG4: little-endian two's complement of n bytes
        const uint64_t n = le(op == 0x8a ? 1 : 4);
        const unsigned char* b = take(n);
        bool fits;
        const int64_t v = long_bytes(b, n, &fits);
        push(make_scalar(fits ? PyKind::Int : PyKind::BigInt, v));
        return;
      }
      case 'G': {  // BINFLOAT: big-endian IEEE double
        const unsigned char* b = take(8);
        uint64_t u = 0;
        for (int i = 0; i < 8; ++i) u = (u << 8) | b[i];
        PyValue v;
        v.kind = PyKind::Float;
        std::memcpy(&v.f, &u, 8);
        push(make(std::move(v)));
        return;
      }
      case 'X':
      case 0x8c:
      case 0x8d: {
        const uint64_t n = le(op == 0x8c ? 1 : op == 'X' ? 4 : 8);
        push(make_text(PyKind::Str, take(n), n));
        return;
      }
      case 'T':
      case 'U': {  // BINSTRING (signed 4-byte length) / SHORT_BINSTRING
        const uint64_t raw = le(op == 'U' ? 1 : 4);
        if (op == 'T' && raw > 0x7FFFFFFF) fail("BINSTRING with a negative length");
        push(make_text(PyKind::Str, take(raw), raw));
        return;
      }
      case 'B':
      case 'C':
      case 0x8e:
      case 0x96: {
        const uint64_t n = le(op == 'C' ? 1 : op == 'B' ? 4 : 8);
        push(make_text(PyKind::Bytes, take(n), n));
        return;
      }
      case '}':
        push(make_container(PyKind::Dict, {}));
        return;
      case ']':
        push(make_container(PyKind::List, {}));
        return;
      case ')':
        push(make_container(PyKind::Tuple, {}));
        return;
      case 0x8f:
        push(make_container(PyKind::Set, {}));
        return;
      case 't':
        push(make_container(PyKind::Tuple, pop_mark()));
        return;
      case 0x85:
      case 0x86:
      case 0x87: {
        std::vector<uint32_t> items(static_cast<std::size_t>(op - 0x84));
        for (std::size_t i = items.size(); i-- > 0;) items[i] = pop();
        push(make_container(PyKind::Tuple, std::move(items)));
        return;
      }
      case 'l':
        push(make_container(PyKind::List, pop_mark()));
        return;
      case 0x91:
        push(make_container(PyKind::Set, pop_mark()));
        return;
      case 'd': {
        std::vector<uint32_t> items = pop_mark();
        if (items.size() % 2) fail("DICT with an odd number of items");
        push(make_container(PyKind::Dict, std::move(items)));
        return;
      }
      case 'a': {
        const uint32_t v = pop();
        mutable_top(PyKind::List, "list");
        extend(top(), {v});
        return;
      }
      case 'e': {
        const std::vector<uint32_t> items = pop_mark();
        mutable_top(PyKind::List, "list");
        extend(top(), items);
        return;
      }
      case 0x90: {
        const std::vector<uint32_t> items = pop_mark();
        mutable_top(PyKind::Set, "set");
        extend(top(), items);
        return;
      }
      case 's': {
        const uint32_t v = pop();
        const uint32_t k = pop();
        mutable_top(PyKind::Dict, "dict");
        extend(top(), {k, v});
        return;
      }
      case 'u': {
        const std::vector<uint32_t> items = pop_mark();
        if (items.size() % 2) fail("SETITEMS with an odd number of items");
        mutable_top(PyKind::Dict, "dict");
        extend(top(), items);
        return;
      }
      case 'q':
        memo_put(le(1));
        return;
      case 'r':
        memo_put(le(4));
        return;
      case 0x94:
        memo_put(memo_.size());
        return;
      case 'h':
        memo_get(le(1));
        return;
      case 'j':
        memo_get(le(4));
        return;
      case 'p':
      case 'g': {  // PUT / GET with a decimal argument line (protocol 0)
        const std::string s = line();
        uint64_t key = 0;
        if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos) {
          fail(op_text() + " with a memo key that is not a decimal number");
        }
        key = std::stoull(s);
        if (op == 'p') {
          memo_put(key);
        } else {
          memo_get(key);
        }
        return;
      }
      case 'c': {  // GLOBAL "module\nname\n"
        const std::string module = line();
        const std::string name = line();
        push(make_global(module, name));
        return;
      }
      case 0x93: {  // STACK_GLOBAL
        const uint32_t name = pop();
        const uint32_t module = pop();
        if (val(module).kind != PyKind::Str || val(name).kind != PyKind::Str) {
          fail("STACK_GLOBAL needs two strings");
        }
        push(make_global(val(module).s, val(name).s));
        return;
      }
      case 'Q':
        push(persistent_load(pop()));
        return;
      case 'R':
      case 0x81: {  // REDUCE (callable, args) / NEWOBJ (class, args)
        const uint32_t args = pop();
        const uint32_t callable = pop();
        push(call(callable, args));
        return;
      }
      case 0x92: {  // NEWOBJ_EX (class, args, kwargs)
        const uint32_t kwargs = pop();
        const uint32_t args = pop();
        const uint32_t cls = pop();
        if (val(kwargs).kind != PyKind::Dict || !val(kwargs).items.empty()) {
          fail("NEWOBJ_EX with keyword arguments");
        }
        push(call(cls, args));
        return;
      }
      case 'b':  // BUILD: would call __setstate__ (OrderedDict's _metadata); the state is dropped
        pop();
        top();
        return;
      case 'i': {  // INST "module\nname\n" with arguments from the mark
        const std::string module = line();
        const std::string name = line();
        const uint32_t cls = make_global(module, name);
        const uint32_t args = make_container(PyKind::Tuple, pop_mark());
        push(call(cls, args));
        return;
      }
      case 'o': {  // OBJ: class and arguments from the mark
        std::vector<uint32_t> items = pop_mark();
        if (items.empty()) fail("OBJ without a class");
        const uint32_t cls = items[0];
        items.erase(items.begin());
        push(call(cls, make_container(PyKind::Tuple, std::move(items))));
        return;
      }
      default:
        break;
    }
    const char* name = pickle_opcode_name(op);
    fail(name ? fmt::format("opcode {} is not supported by muft's restricted unpickler", name)
              : fmt::format("unknown opcode 0x{:02x}", op));
  }

  const unsigned char* p_;
  std::size_t size_;
  std::string where_;
  std::size_t pos_ = 0, op_pos_ = 0;
  std::vector<uint32_t> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<uint64_t, uint32_t> memo_;
  std::unordered_map<std::string, std::size_t> storage_of_key_;
  Pickle out_;
};

}  // namespace

std::optional<TorchStorageType> torch_storage_type(const std::string& global) {
  for (const auto& c : kStorageClasses) {
    if (global == c.name) return TorchStorageType{c.dtype, c.size};
  }
  return std::nullopt;
}

const char* pickle_opcode_name(unsigned char op) {
  for (const auto& o : kOpcodeNames) {
    if (o.op == op) return o.name;
  }
  return nullptr;
}

Pickle unpickle(const unsigned char* data, std::size_t size, const std::string& where) {
  return Machine(data, size, where).run();
}

}  // namespace muft::checkpoint::detail
