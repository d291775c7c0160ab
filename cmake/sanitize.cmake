# AddressSanitizer / UndefinedBehaviorSanitizer builds: -DP2V_SANITIZE=address,undefined
if(P2V_SANITIZE)
    add_compile_options(-fsanitize=${P2V_SANITIZE} -fno-omit-frame-pointer
                        -fno-sanitize-recover=all)
    add_link_options(-fsanitize=${P2V_SANITIZE})
endif()
