// safetensors header validation (parse_safetensors) and writers.

#include "muft/checkpoint/safetensors.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "muft/checkpoint/dtype.h"
#include "text_util.h"

namespace muft::checkpoint {
namespace {

constexpr int kMaxJsonDepth = 32;

[[noreturn]] void fail(const std::string& file, const std::string& reason) {
  throw std::runtime_error(detail::one_line(file + ": " + reason));
}

bool checked_mul(uint64_t a, uint64_t b, uint64_t* out) {
  if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a) return false;
  *out = a * b;
  return true;
}

const char* const kKnownUnsupported[] = {"F8_E5M2", "F8_E4M3", "F8_E8M0", "F6_E2M3",
                                         "F6_E3M2", "F4",      "C64"};

SafetensorsEntry parse_entry(const std::string& file, const std::string& name,
                             const nlohmann::json& v) {
  const std::string where = "tensor '" + name + "'";
  if (!v.is_object()) fail(file, where + ": header entry is not a JSON object");
  SafetensorsEntry e;
  e.info.name = name;
  const auto dt = v.find("dtype");
  if (dt == v.end() || !dt->is_string()) fail(file, where + ": missing string field 'dtype'");
  const std::string dname = dt->get<std::string>();
  const auto t = dtype_from_name(dname);
  if (!t) {
    for (const char* k : kKnownUnsupported) {
      if (dname == k) fail(file, where + ": dtype " + dname + " is not supported by muft");
    }
    fail(file, where + ": unknown dtype '" + dname + "'");
  }
  e.info.dtype = *t;
  const auto sh = v.find("shape");
  if (sh == v.end() || !sh->is_array()) fail(file, where + ": missing array field 'shape'");
  for (const auto& d : *sh) {
    if (!d.is_number_unsigned() || d.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      fail(file, where + ": shape entries must be non-negative integers, got " + d.dump());
    }
    e.info.shape.push_back(static_cast<int64_t>(d.get<uint64_t>()));
  }
  const auto off = v.find("data_offsets");
  if (off == v.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
      !(*off)[1].is_number_unsigned()) {
    fail(file, where + ": 'data_offsets' must be [begin, end] with non-negative integers");
  }
  e.begin = (*off)[0].get<uint64_t>();
  e.end = (*off)[1].get<uint64_t>();
  return e;
}

}  // namespace

SafetensorsHeader parse_safetensors(const unsigned char* data, std::size_t size,
                                    const std::string& file) {
  if (size < 8) {
    fail(file, fmt::format("file is {} bytes, too short for the 8-byte header length", size));
  }
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | data[i];  // little-endian, no pointer cast
  if (n > kSafetensorsMaxHeader) {
    fail(file,
         fmt::format("header length {} exceeds the limit of {} bytes", n, kSafetensorsMaxHeader));
  }
  if (n > size - 8) {
    fail(file, fmt::format("header length {} exceeds the {} bytes after the length field "
                           "(truncated file?)",
                           n, size - 8));
  }
  const char* text = reinterpret_cast<const char*>(data + 8);
  if (!detail::valid_utf8(text, n)) fail(file, "header is not valid UTF-8");
  // The JSON parser would stop at a NUL byte and ignore what follows: refuse it.
  if (n > 0 && std::memchr(text, 0, n) != nullptr) {
    fail(file, "header is not valid JSON: it contains a NUL byte");
  }
  if (detail::json_depth(text, n, kMaxJsonDepth) > kMaxJsonDepth) {
    fail(file, fmt::format("header JSON is nested deeper than {} levels", kMaxJsonDepth));
  }
  // Duplicate names are ambiguous: detect them while parsing (keys of the root object).
  std::set<std::string> keys;
  std::string duplicate;
  nlohmann::json::parser_callback_t cb = [&](int depth, nlohmann::json::parse_event_t event,
                                             nlohmann::json& parsed) {
    if (event == nlohmann::json::parse_event_t::key && depth == 1 && parsed.is_string()) {
      if (!keys.insert(parsed.get<std::string>()).second && duplicate.empty()) {
        duplicate = parsed.get<std::string>();
      }
    }
    return true;
  };
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text, text + n, cb);
  } catch (const nlohmann::json::exception& e) {
    fail(file, std::string("header is not valid JSON: ") + e.what());
  }
  if (!header.is_object()) fail(file, "header JSON is not an object");
  if (!duplicate.empty()) fail(file, "tensor name '" + duplicate + "' appears twice in the header");

  SafetensorsHeader out;
  out.data_start = 8 + n;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (it->is_null()) continue;
      if (!it->is_object()) fail(file, "__metadata__ is not a JSON object");
      for (auto m = it->begin(); m != it->end(); ++m) {
        if (!m->is_string()) {
          fail(file, "__metadata__ value of '" + m.key() + "' is not a string");
        }
        out.metadata[m.key()] = m->get<std::string>();
      }
      continue;
    }
    out.tensors.push_back(parse_entry(file, it.key(), *it));
  }

  // Layout: sorted by offsets, contiguous from 0, sizes match shape × dtype.
  std::vector<const SafetensorsEntry*> order;
  for (const auto& e : out.tensors) order.push_back(&e);
  std::sort(order.begin(), order.end(), [](const SafetensorsEntry* a, const SafetensorsEntry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t pos = 0;
  for (const SafetensorsEntry* e : order) {
    const std::string where = "tensor '" + e->info.name + "'";
    if (e->end < e->begin) {
      fail(file,
           fmt::format("{}: data_offsets [{}, {}] end before they begin", where, e->begin, e->end));
    }
    if (e->begin > pos) {
      fail(file, fmt::format("{}: gap in the data section (data_offsets begin at {}, the previous "
                             "tensor ends at {})",
                             where, e->begin, pos));
    }
    if (e->begin < pos) {
      fail(file, fmt::format("{}: data_offsets [{}, {}] overlap the previous tensor (ends at {})",
                             where, e->begin, e->end, pos));
    }
    uint64_t numel = 1;
    for (int64_t d : e->info.shape) {
      if (!checked_mul(numel, static_cast<uint64_t>(d), &numel)) {
        fail(file, where + ": element count overflows 64 bits");
      }
    }
    uint64_t nbytes = 0;
    if (!checked_mul(numel, dtype_size(e->info.dtype), &nbytes) ||
        numel > static_cast<uint64_t>(INT64_MAX)) {
      fail(file, where + ": byte size overflows 64 bits");
    }
    if (e->end - e->begin != nbytes) {
      std::string shape;
      for (int64_t d : e->info.shape) shape += (shape.empty() ? "" : ", ") + std::to_string(d);
      fail(file, fmt::format("{}: data_offsets span {} bytes, but shape [{}] of {} needs {}", where,
                             e->end - e->begin, shape, dtype_name(e->info.dtype), nbytes));
    }
    pos = e->end;
  }
  if (pos != size - 8 - n) {
    fail(file, fmt::format("file is {} bytes, but 8 + header {} + data {} = {} ({})", size, n, pos,
                           8 + n + pos, pos > size - 8 - n ? "truncated" : "trailing bytes"));
  }
  std::sort(out.tensors.begin(), out.tensors.end(),
            [](const SafetensorsEntry& a, const SafetensorsEntry& b) {
              return a.info.name < b.info.name;
            });
  return out;
}

SafetensorsIndex parse_safetensors_index(const std::string& text, const std::string& file) {
  namespace fs = std::filesystem;
  if (text.size() > kSafetensorsMaxHeader) fail(file, "index file larger than 100000000 bytes");
  if (detail::json_depth(text.data(), text.size(), kMaxJsonDepth) > kMaxJsonDepth) {
    fail(file, "index JSON is nested deeper than 32 levels");
  }
  if (text.find('\0') != std::string::npos) {
    fail(file, "index is not valid JSON: it contains a NUL byte");
  }
  nlohmann::json index;
  try {
    index = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail(file, std::string("index is not valid JSON: ") + e.what());
  }
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
    fail(file, "index has no 'weight_map' object");
  }
  SafetensorsIndex out;
  for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
    if (!it->is_string()) fail(file, "weight_map value of '" + it.key() + "' is not a file name");
    const std::string shard = it->get<std::string>();
    const fs::path rel(shard);
    bool bad = shard.empty() || rel.is_absolute();
    for (const auto& part : rel) bad = bad || part == "..";
    if (bad) {
      fail(file, "weight_map names shard '" + shard +
                     "': expected a file name relative to the index directory");
    }
    if (std::find(out.shards.begin(), out.shards.end(), shard) == out.shards.end()) {
      out.shards.push_back(shard);
    }
    out.weight_map.emplace(it.key(), shard);
  }
  return out;
}

namespace {

void check_tensors(const std::string& path, const std::vector<NamedTensor>& tensors) {
  std::set<std::string> seen;
  for (const auto& t : tensors) {
    if (t.name == "__metadata__") {
      throw std::invalid_argument(path + ": '__metadata__' cannot be a tensor name");
    }
    if (!seen.insert(t.name).second) {
      throw std::invalid_argument(path + ": duplicate tensor name '" + t.name + "'");
    }
    const TensorInfo info{t.name, t.shape, t.dtype, {}};
    const uint64_t need = static_cast<uint64_t>(info.numel()) * dtype_size(t.dtype);
    if (t.bytes.size() != need) {
      throw std::invalid_argument(
          fmt::format("{}: tensor '{}' holds {} bytes, shape and {} need {}", path, t.name,
                      t.bytes.size(), dtype_name(t.dtype), need));
    }
  }
}

}  // namespace

void write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  check_tensors(path, tensors);
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t pos = 0;
  for (const auto& t : tensors) {
    header[t.name] = {{"dtype", dtype_name(t.dtype)},
                      {"shape", t.shape},
                      {"data_offsets", {pos, pos + t.bytes.size()}}};
    pos += t.bytes.size();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  unsigned char len[8];
  uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));

  const std::string tmp = fmt::format("{}.tmp.{}", path, static_cast<long>(::getpid()));
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw std::runtime_error(path + ": cannot create " + tmp);
    f.write(reinterpret_cast<const char*>(len), 8);
    f.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const auto& t : tensors) {
      f.write(reinterpret_cast<const char*>(t.bytes.data()),
              static_cast<std::streamsize>(t.bytes.size()));
    }
    f.close();
    if (!f) {
      std::remove(tmp.c_str());
      throw std::runtime_error(path + ": write failed");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw std::runtime_error(path + ": cannot rename " + tmp + " over it: " + std::strerror(errno));
  }
}

std::string write_safetensors_sharded(const std::string& dir,
                                      const std::vector<NamedTensor>& tensors,
                                      uint64_t max_shard_bytes, const std::string& stem) {
  check_tensors(dir, tensors);
  std::vector<std::vector<NamedTensor>> shards;
  uint64_t current = 0, total = 0;
  for (const auto& t : tensors) {
    if (shards.empty() || (current > 0 && current + t.bytes.size() > max_shard_bytes)) {
      shards.emplace_back();
      current = 0;
    }
    shards.back().push_back(t);
    current += t.bytes.size();
    total += t.bytes.size();
  }
  if (shards.empty()) shards.emplace_back();
  nlohmann::ordered_json index;
  index["metadata"] = {{"total_size", total}};
  index["weight_map"] = nlohmann::ordered_json::object();
  for (std::size_t i = 0; i < shards.size(); ++i) {
    const std::string name =
        fmt::format("{}-{:05d}-of-{:05d}.safetensors", stem, i + 1, shards.size());
    write_safetensors(dir + "/" + name, shards[i]);
    for (const auto& t : shards[i]) index["weight_map"][t.name] = name;
  }
  const std::string index_path = dir + "/" + stem + ".safetensors.index.json";
  std::ofstream f(index_path, std::ios::trunc);
  f << index.dump(2) << '\n';
  if (!f) throw std::runtime_error(index_path + ": write failed");
  return index_path;
}

NamedTensor make_tensor(const std::string& name, const std::vector<int64_t>& shape, DType t,
                        const std::vector<double>& values) {
  NamedTensor out{name, shape, t, {}};
  const TensorInfo info{name, shape, t, {}};
  if (static_cast<uint64_t>(info.numel()) != values.size()) {
    throw std::invalid_argument(fmt::format("make_tensor '{}': {} values for {} elements", name,
                                            values.size(), info.numel()));
  }
  const std::size_t es = dtype_size(t);
  out.bytes.resize(values.size() * es);
  unsigned char* p = out.bytes.data();
  for (std::size_t i = 0; i < values.size(); ++i, p += es) {
    const double v = values[i];
    auto put = [&](auto x) { std::memcpy(p, &x, sizeof x); };
    switch (t) {
      case DType::F64:
        put(v);
        break;
      case DType::F32:
        put(static_cast<float>(v));
        break;
      case DType::F16:
        put(float_to_half(static_cast<float>(v)));
        break;
      case DType::BF16:
        put(float_to_bfloat16(static_cast<float>(v)));
        break;
      case DType::I64:
        put(static_cast<int64_t>(v));
        break;
      case DType::I32:
        put(static_cast<int32_t>(v));
        break;
      case DType::I16:
        put(static_cast<int16_t>(v));
        break;
      case DType::I8:
        put(static_cast<int8_t>(v));
        break;
      case DType::U64:
        put(static_cast<uint64_t>(v));
        break;
      case DType::U32:
        put(static_cast<uint32_t>(v));
        break;
      case DType::U16:
        put(static_cast<uint16_t>(v));
        break;
      case DType::U8:
        put(static_cast<uint8_t>(v));
        break;
      case DType::Bool:
        put(static_cast<uint8_t>(v != 0.0));
        break;
    }
  }
  return out;
}

}  // namespace muft::checkpoint
