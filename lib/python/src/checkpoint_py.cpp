/// \file checkpoint_py.cpp
/// muft.open(path): any checkpoint muft reads as a read-only mapping name → numpy array.
///
/// An array is a view of the file's memory mapping (zero-copy, its `.base` the Checkpoint)
/// when the source hands out the tensor's bytes in place (TensorSource::stored_bytes), the dtype
/// exists in numpy (every dtype but BF16; F16 is converted as the API promises) and the bytes
/// are aligned to the element size. Otherwise the values are converted: F32/F16/BF16 (and Q8_0
/// GGUF blocks) to float32, F64 to float64, exactly; integer tensors without bytes in place
/// cannot be converted and raise ValueError.

#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "bindings.h"
#include "muft/checkpoint/tensor_source.h"

namespace muft::python {
namespace {

namespace ck = muft::checkpoint;

/// An open source and its name index, shared by the arrays it hands out.
class Checkpoint {
 public:
  explicit Checkpoint(std::unique_ptr<ck::TensorSource> src) : src_(std::move(src)) {
    for (std::size_t i = 0; i < src_->tensors().size(); ++i) index_[src_->tensors()[i].name] = i;
  }
  const ck::TensorSource& source() const { return *src_; }
  /// The tensor's info; KeyError for an unknown name.
  const ck::TensorInfo& info(const std::string& name) const {
    const auto it = index_.find(name);
    if (it == index_.end()) throw py::key_error(name);
    return src_->tensors()[it->second];
  }
  bool contains(const std::string& name) const { return index_.count(name) > 0; }

 private:
  std::unique_ptr<ck::TensorSource> src_;
  std::unordered_map<std::string, std::size_t> index_;
};

/// The numpy dtype string of a dtype whose bytes numpy can view as they are stored ("" when
/// it cannot or should not: BF16 has no numpy type, F16 is converted to float32).
const char* numpy_view_dtype(ck::DType t) {
  switch (t) {
    case ck::DType::F64:
      return "<f8";
    case ck::DType::F32:
      return "<f4";
    case ck::DType::I64:
      return "<i8";
    case ck::DType::I32:
      return "<i4";
    case ck::DType::I16:
      return "<i2";
    case ck::DType::I8:
      return "i1";
    case ck::DType::U64:
      return "<u8";
    case ck::DType::U32:
      return "<u4";
    case ck::DType::U16:
      return "<u2";
    case ck::DType::U8:
      return "u1";
    case ck::DType::Bool:
      return "?";
    case ck::DType::F16:
    case ck::DType::BF16:
      return "";
  }
  return "";
}

/// The numpy dtype a tensor comes out as (views: as stored; conversions: float32/float64).
std::string array_dtype(const ck::TensorInfo& info) {
  if (info.dtype == ck::DType::F16 || info.dtype == ck::DType::BF16) return "float32";
  return py::dtype(std::string(numpy_view_dtype(info.dtype))).attr("name").cast<std::string>();
}

std::vector<py::ssize_t> c_strides(const std::vector<int64_t>& shape, std::size_t itemsize) {
  std::vector<py::ssize_t> strides(shape.size());
  py::ssize_t s = static_cast<py::ssize_t>(itemsize);
  for (std::size_t d = shape.size(); d-- > 0;) {
    strides[d] = s;
    s *= static_cast<py::ssize_t>(shape[d]);
  }
  return strides;
}

template <class T>
py::array converted(const ck::TensorSource& src, const ck::TensorInfo& info) {
  auto* values = new std::vector<T>();
  std::unique_ptr<std::vector<T>> owner(values);
  {
    py::gil_scoped_release unlocked;
    src.read(info.name, *values);
  }
  py::capsule free_when_done(owner.release(),
                             [](void* p) { delete static_cast<std::vector<T>*>(p); });
  const std::vector<py::ssize_t> shape(info.shape.begin(), info.shape.end());
  return py::array_t<T>(shape, c_strides(info.shape, sizeof(T)), values->data(), free_when_done);
}

/// ck[name]: a read-only view of the mapping where possible, else a converted copy.
py::array get_item(const py::object& self, const std::string& name) {
  const Checkpoint& c = self.cast<const Checkpoint&>();
  const ck::TensorInfo& info = c.info(name);
  const ck::TensorSource& src = c.source();
  std::optional<ck::StoredBytes> bytes;
  {
    py::gil_scoped_release unlocked;  // a muft checkpoint's checksum is checked here
    bytes = src.stored_bytes(name);
  }
  const std::string view_dtype = numpy_view_dtype(info.dtype);
  const std::size_t itemsize = ck::dtype_size(info.dtype);
  const std::vector<py::ssize_t> shape(info.shape.begin(), info.shape.end());
  if (bytes && !view_dtype.empty()) {
    const auto address = reinterpret_cast<std::uintptr_t>(bytes->data);
    py::array out;
    if (address % itemsize == 0) {
      // The Checkpoint object is the array's base: the mapping lives as long as the array.
      out = py::array(py::dtype(view_dtype), shape, c_strides(info.shape, itemsize), bytes->data,
                      self);
    } else {  // unaligned in the file: numpy views would be slow and C++ could not read them
      out = py::array(py::dtype(view_dtype), shape, c_strides(info.shape, itemsize));
      if (bytes->size) std::memcpy(out.mutable_data(), bytes->data, bytes->size);
    }
    out.attr("setflags")(py::arg("write") = false);
    return out;
  }
  if (!info.skip_reason.empty()) {
    throw std::invalid_argument(src.path() + ": tensor '" + name + "': " + info.skip_reason);
  }
  if (!ck::is_floating(info.dtype)) {
    throw std::invalid_argument(src.path() + ": tensor '" + name + "': dtype " +
                                ck::dtype_name(info.dtype) +
                                " is not stored in place (only floating tensors are converted)");
  }
  if (info.dtype == ck::DType::F64) return converted<double>(src, info);
  return converted<float>(src, info);
}

py::tuple shape_tuple(const std::vector<int64_t>& shape) {
  py::tuple t(shape.size());
  for (std::size_t i = 0; i < shape.size(); ++i) t[i] = py::int_(shape[i]);
  return t;
}

}  // namespace

void bind_checkpoint(py::module_& m) {
  py::class_<ck::TensorInfo>(m, "TensorInfo",
                             "What a checkpoint says about one tensor, read without its values.")
      .def_property_readonly(
          "name", [](const ck::TensorInfo& t) { return text(t.name); }, "Tensor name.")
      .def_property_readonly(
          "shape", [](const ck::TensorInfo& t) { return shape_tuple(t.shape); },
          "Row-major shape as stored.")
      .def_property_readonly(
          "dtype", [](const ck::TensorInfo& t) { return std::string(ck::dtype_name(t.dtype)); },
          "Stored dtype as muft names it: F64, F32, F16, BF16, I64, ..., U8, BOOL.")
      .def_property_readonly("array_dtype", &array_dtype,
                             "The numpy dtype of checkpoint[name]: as stored, except F16 and "
                             "BF16, which come out as float32.")
      .def_property_readonly("numel", &ck::TensorInfo::numel, "Number of elements.")
      .def_property_readonly(
          "nbytes",
          [](const ck::TensorInfo& t) {
            return static_cast<int64_t>(t.numel() * static_cast<int64_t>(ck::dtype_size(t.dtype)));
          },
          "Stored size in bytes.")
      .def_property_readonly(
          "matrix_shape",
          [](const ck::TensorInfo& t) {
            const auto [r, c] = t.matrix_shape();
            return py::make_tuple(r, c);
          },
          "The matrix the analysis sees: rank 2 as is, rank > 2 as (dim0, rest), else (0, 0).")
      .def_property_readonly(
          "skip_reason", [](const ck::TensorInfo& t) { return text(t.skip_reason); },
          "Why the values cannot be read as floats ('' when they can).")
      .def("__repr__", [](const ck::TensorInfo& t) {
        std::string dims;
        for (std::size_t i = 0; i < t.shape.size(); ++i)
          dims += (i ? ", " : "") + std::to_string(t.shape[i]);
        if (t.shape.size() == 1) dims += ",";
        return "TensorInfo(name=" + py::repr(text(t.name)).cast<std::string>() + ", shape=(" +
               dims + "), dtype='" + ck::dtype_name(t.dtype) + "')";
      });

  py::class_<Checkpoint>(m, "Checkpoint",
                         "A checkpoint opened by muft.open: a read-only mapping from tensor "
                         "name to numpy array (see muft.open).")
      .def("__getitem__", &get_item, py::arg("name"),
           "The tensor as a numpy array: a read-only view of the file where it is stored "
           "contiguously as float32/float64 (or an integer type), else converted.")
      .def("__len__", [](const Checkpoint& c) { return c.source().tensors().size(); })
      .def(
          "__iter__",
          [](const Checkpoint& c) {
            py::list names;
            for (const auto& t : c.source().tensors()) names.append(text(t.name));
            return py::iter(names);
          },
          "Tensor names, sorted.")
      .def("__contains__",
           [](const Checkpoint& c, const py::object& name) {
             return py::isinstance<py::str>(name) && c.contains(name.cast<std::string>());
           })
      .def(
          "info", [](const Checkpoint& c, const std::string& name) { return c.info(name); },
          py::arg("name"), "TensorInfo of one tensor (KeyError when there is none).")
      .def_property_readonly(
          "tensors",
          [](const Checkpoint& c) {
            return std::vector<ck::TensorInfo>(c.source().tensors().begin(),
                                               c.source().tensors().end());
          },
          "TensorInfo of every tensor, sorted by name.")
      .def_property_readonly(
          "path", [](const Checkpoint& c) { return text(c.source().path()); },
          "The path the checkpoint was opened from.")
      .def_property_readonly(
          "format", [](const Checkpoint& c) { return std::string(c.source().format()); },
          "muft-hdf5, hdf5, safetensors, safetensors-sharded, pytorch, pytorch-sharded or gguf.")
      .def_property_readonly(
          "note", [](const Checkpoint& c) { return text(c.source().note()); },
          "A remark on the whole file ('' when none), e.g. a muft checkpoint without checksums.")
      .def("__repr__", [](const Checkpoint& c) {
        return "<muft.Checkpoint " + std::string(c.source().format()) + " " +
               py::repr(text(c.source().path())).cast<std::string>() + ", " +
               std::to_string(c.source().tensors().size()) + " tensors>";
      });

  m.def(
      "open_checkpoint",
      [](const std::string& path) {
        std::unique_ptr<ck::TensorSource> src;
        {
          py::gil_scoped_release unlocked;
          src = ck::open_source(path);
        }
        return Checkpoint(std::move(src));
      },
      py::arg("path"));
}

}  // namespace muft::python
