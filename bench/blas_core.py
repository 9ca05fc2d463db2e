"""Which OpenBLAS core the Python references run on, for the bench/*.sh side-by-side lines.

numpy and torch on Debian both load libopenblas.so.0; asking that library (already loaded, so
ctypes returns the same instance) for openblas_get_corename() gives the kernels in use.
"""
import ctypes


def openblas_core():
    """The core name OpenBLAS chose in this process, or "none" when it cannot be asked."""
    try:
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_corename.restype = ctypes.c_char_p
        return lib.openblas_get_corename().decode()
    except (OSError, AttributeError):
        return "none"
