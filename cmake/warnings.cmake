# Warnings are errors (P2V_WERROR, on by default and in CI).
add_compile_options(
    -Wall -Wextra -Wshadow -Wformat=2 -Wundef -Wvla
    -Wstrict-prototypes -Wmissing-prototypes -Wold-style-definition
    -Wpointer-arith -Wcast-qual -Wwrite-strings
    -Wno-unused-parameter -Wno-missing-field-initializers)
if(P2V_WERROR)
    add_compile_options(-Werror)
endif()
