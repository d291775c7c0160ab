# AddressSanitizer / UndefinedBehaviorSanitizer builds: -DP2V_SANITIZE=address,undefined
if(P2V_SANITIZE)
    add_compile_options(-fsanitize=${P2V_SANITIZE} -fno-omit-frame-pointer
                        -fno-sanitize-recover=all)
    add_link_options(-fsanitize=${P2V_SANITIZE})
endif()

# Fuzz builds (-DP2V_FUZZ=ON, clang): everything gets coverage instrumentation
# for libFuzzer plus ASan and UBSan; tests/fuzz links the fuzzer driver.
# FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION (libFuzzer's convention) lets a
# parser skip checksums a mutated input cannot keep right.
if(P2V_FUZZ)
    add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
                        -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION)
    add_link_options(-fsanitize=address,undefined)
endif()
