# Build options. Feature switches feed always-defined 0/1 macros so that
# disabled code is still compiled (tested with a plain `if`, never #ifdef).
option(P2V_WERROR "Treat warnings as errors" ON)
set(P2V_SANITIZE "" CACHE STRING "Sanitizers to build with, e.g. address,undefined")
option(P2V_FUZZ "Build libFuzzer harnesses (needs clang)" OFF)
