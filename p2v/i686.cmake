# Toolchain for a 32-bit (i686) agent: gcc -m32 (gcc-multilib) against the
# i386 libraries that p2v/i686-sysroot.sh unpacks into P2V_I686_SYSROOT
# (docs/p2v.md, "Building for live media"):
#   p2v/i686-sysroot.sh /tmp/i686-root
#   cmake -S p2v/agent-build -B build-i686 -DCMAKE_TOOLCHAIN_FILE=$PWD/p2v/i686.cmake \
#         -DP2V_I686_SYSROOT=/tmp/i686-root
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR i686)
set(CMAKE_C_COMPILER gcc)
set(CMAKE_TRY_COMPILE_PLATFORM_VARIABLES P2V_I686_SYSROOT)
# Without P2V_I686_SYSROOT: the host's own i386 -dev packages (multiarch).
if(NOT EXISTS "${P2V_I686_SYSROOT}/usr/lib/i386-linux-gnu/libxml2.a")
    message(FATAL_ERROR "no i386 libxml2.a under '${P2V_I686_SYSROOT}/usr/lib/i386-linux-gnu': "
                        "set P2V_I686_SYSROOT to a directory made by p2v/i686-sysroot.sh")
endif()
# The sysroot's headers first (openssl/configuration.h is per architecture);
# glibc's headers serve both word sizes.
set(CMAKE_C_FLAGS_INIT "-m32 -march=i686 -isystem ${P2V_I686_SYSROOT}/usr/include/i386-linux-gnu -isystem ${P2V_I686_SYSROOT}/usr/include")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-m32")
set(ENV{PKG_CONFIG_LIBDIR} "${P2V_I686_SYSROOT}/usr/lib/i386-linux-gnu/pkgconfig:${P2V_I686_SYSROOT}/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "${P2V_I686_SYSROOT}")
set(ENV{PKG_CONFIG_ALLOW_SYSTEM_LIBS} 1)
