#include "torch_state_dict.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>
#include <unordered_set>

#include "text_util.h"

namespace muft::checkpoint::detail {
namespace {

bool is_container(PyKind k) {
  return k == PyKind::Dict || k == PyKind::List || k == PyKind::Tuple;
}

// A dict key as a name component; false for keys that cannot be one.
bool key_text(const PyValue& k, std::string* out) {
  if (k.kind == PyKind::Str || k.kind == PyKind::Bytes) {
    *out = k.s;
    return true;
  }
  if (k.kind == PyKind::Int) {
    *out = std::to_string(k.i);
    return true;
  }
  return false;
}

class Flattener {
 public:
  Flattener(const Pickle& p, const std::string& where) : p_(p), where_(where) {}

  // Does the value hold a tensor anywhere below it (bounded like the walk)?
  bool holds_tensor(uint32_t v, int depth, std::unordered_set<uint32_t>& seen) const {
    const PyValue& x = p_.values[v];
    if (x.kind == PyKind::Tensor) return true;
    if (!is_container(x.kind) || depth > kMaxPickleDepth || !seen.insert(v).second) return false;
    const std::size_t step = x.kind == PyKind::Dict ? 2 : 1;
    for (std::size_t i = step - 1; i < x.items.size(); i += step) {
      if (holds_tensor(x.items[i], depth + 1, seen)) return true;
    }
    return false;
  }

  void walk(uint32_t v, const std::string& prefix, int depth,
            const std::vector<std::string>& skip) {
    const PyValue& x = p_.values[v];
    if (x.kind == PyKind::Tensor) {
      emit(prefix.empty() ? "tensor" : prefix, static_cast<std::size_t>(x.i));
      return;
    }
    if (!is_container(x.kind)) return;  // step counters, strings, config values
    if (depth > kMaxPickleDepth) {
      throw std::runtime_error(
          fmt::format("{}: containers nest deeper than {} levels", where_, kMaxPickleDepth));
    }
    if (!visited_.insert(v).second) return;
    auto join = [&](const std::string& k) { return prefix.empty() ? k : prefix + "." + k; };
    if (x.kind == PyKind::Dict) {
      for (std::size_t i = 0; i + 1 < x.items.size(); i += 2) {
        std::string key;
        if (!key_text(p_.values[x.items[i]], &key)) continue;
        if (std::find(skip.begin(), skip.end(), key) != skip.end()) continue;
        walk(x.items[i + 1], join(key), depth + 1, {});
      }
    } else {
      for (std::size_t i = 0; i < x.items.size(); ++i) {
        walk(x.items[i], join(std::to_string(i)), depth + 1, {});
      }
    }
  }

  std::vector<NamedPickleTensor> take() {
    std::sort(out_.begin(), out_.end(), [](const NamedPickleTensor& a, const NamedPickleTensor& b) {
      return a.name < b.name;
    });
    for (std::size_t i = 1; i < out_.size(); ++i) {
      if (out_[i].name == out_[i - 1].name) {
        throw std::runtime_error(
            one_line(fmt::format("{}: two tensors get the name '{}' (nested keys joined with dots)",
                                 where_, out_[i].name)));
      }
    }
    return std::move(out_);
  }

 private:
  void emit(const std::string& name, std::size_t tensor) { out_.push_back({name, tensor}); }

  const Pickle& p_;
  const std::string& where_;
  std::unordered_set<uint32_t> visited_;
  std::vector<NamedPickleTensor> out_;
};

}  // namespace

std::vector<NamedPickleTensor> flatten_state_dict(const Pickle& p, const std::string& where) {
  const PyValue& root = p.values[p.root];
  Flattener f(p, where);
  if (root.kind == PyKind::Tensor) {
    f.walk(p.root, "", 0, {});
    return f.take();
  }
  if (!is_container(root.kind)) {
    throw std::runtime_error(
        fmt::format("{}: the pickle holds a single value, not a state dict of tensors", where));
  }
  if (root.kind == PyKind::Dict) {
    // An optimizer's state_dict() ({'state': ..., 'param_groups': [...]}) holds no weights.
    bool state = false, param_groups = false;
    for (std::size_t i = 0; i + 1 < root.items.size(); i += 2) {
      std::string key;
      if (!key_text(p.values[root.items[i]], &key)) continue;
      state = state || key == "state";
      param_groups = param_groups || key == "param_groups";
    }
    if (state && param_groups) return {};
    bool direct = false;
    for (std::size_t i = 1; i < root.items.size(); i += 2) {
      direct = direct || p.values[root.items[i]].kind == PyKind::Tensor;
    }
    if (!direct) {
      for (const char* want : kStateDictKeys) {
        for (std::size_t i = 0; i + 1 < root.items.size(); i += 2) {
          std::string key;
          if (!key_text(p.values[root.items[i]], &key) || key != want) continue;
          const uint32_t v = root.items[i + 1];
          std::unordered_set<uint32_t> seen;
          if (p.values[v].kind == PyKind::Dict && f.holds_tensor(v, 0, seen)) {
            f.walk(v, "", 0, {});
            return f.take();
          }
        }
      }
      f.walk(
          p.root, "", 0,
          std::vector<std::string>(std::begin(kTrainingStateKeys), std::end(kTrainingStateKeys)));
      return f.take();
    }
  }
  f.walk(p.root, "", 0, {});
  return f.take();
}

}  // namespace muft::checkpoint::detail
