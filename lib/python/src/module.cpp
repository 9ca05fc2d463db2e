/// \file module.cpp
/// `muft._muft`: the extension module under the muft package. Registers every binding and the
/// translation of muft's exceptions into Python's: bad input (std::invalid_argument, other
/// std::logic_error) → ValueError, a name that is not there (std::out_of_range) → KeyError,
/// unreadable or invalid files and other failures (std::runtime_error) → OSError, each with
/// muft's one-line message; no C++ exception reaches the interpreter as a crash.

#include <new>
#include <stdexcept>
#include <string>

#include "bindings.h"
#include "muft/platform/startup.h"

#ifdef MUFT_PYTHON_HAVE_OPENBLAS
extern "C" char* openblas_get_corename(void);
extern "C" int openblas_get_num_threads(void);
#endif

namespace {

namespace py = pybind11;

void translate(std::exception_ptr p) {
  try {
    if (p) std::rethrow_exception(p);
  } catch (const py::builtin_exception&) {
    throw;  // pybind11's own (py::value_error, ...): its translator knows them
  } catch (const py::error_already_set&) {
    throw;
  } catch (const std::out_of_range& e) {
    PyErr_SetString(PyExc_KeyError, e.what());
  } catch (const std::logic_error& e) {  // std::invalid_argument and friends
    PyErr_SetString(PyExc_ValueError, e.what());
  } catch (const std::bad_alloc&) {
    PyErr_NoMemory();
  } catch (const std::runtime_error& e) {
    PyErr_SetString(PyExc_OSError, e.what());
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
  }
}

// The platform line of muft::platform, with OpenBLAS asked directly: inside an interpreter the
// library is loaded privately (RTLD_LOCAL), where platform's dlsym lookup cannot see it.
std::string platform_line() {
  std::string core;
  int threads = 0;
#ifdef MUFT_PYTHON_HAVE_OPENBLAS
  if (const char* name = openblas_get_corename()) core = name;
  threads = openblas_get_num_threads();
#endif
  return muft::platform::summary_line(core, threads, muft::platform::read_cpu_info(),
                                      muft::platform::BlasEnv::from_process());
}

}  // namespace

PYBIND11_MODULE(_muft, m) {
  m.doc() = "muft's C++ core (private: use the muft package)";
  m.attr("__version__") = MUFT_VERSION;
  py::register_exception_translator(&translate);
  m.def("platform_line", &platform_line,
        "One line: the OpenBLAS core and thread count, the CPU's SIMD level and model.");
  muft::python::bind_checkpoint(m);
  muft::python::bind_analysis(m);
  muft::python::bind_rundir(m);
  muft::python::bind_theory(m);
  muft::python::bind_stats(m);
}
