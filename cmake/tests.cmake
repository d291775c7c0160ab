# Test helpers. Unit tests are cmocka programs; integration tests are shell
# scripts. A test that lacks something it needs (a package, a guest it could
# not build) exits 77 and is reported as skipped, never as passed.

# p2v_unit_test(NAME SOURCES... LIBS lib...)
function(p2v_unit_test name)
    cmake_parse_arguments(T "" "" "SOURCES;LIBS;LABELS" ${ARGN})
    add_executable(${name} ${T_SOURCES})
    target_link_libraries(${name} PRIVATE ${T_LIBS} PkgConfig::CMOCKA)
    set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
    add_test(NAME ${name} COMMAND ${name})
    set_tests_properties(${name} PROPERTIES SKIP_RETURN_CODE 77 LABELS "unit;${T_LABELS}")
endfunction()

# p2v_script_test(NAME SCRIPT [LABELS ...] [TIMEOUT s]): runs SCRIPT with
# BIN=build/bin, SRC=source dir, WORK=a fresh scratch directory.
function(p2v_script_test name script)
    cmake_parse_arguments(T "" "TIMEOUT" "LABELS" ${ARGN})
    if(NOT T_TIMEOUT)
        set(T_TIMEOUT 600)
    endif()
    add_test(NAME ${name}
             COMMAND ${CMAKE_SOURCE_DIR}/tests/run-script.sh ${CMAKE_CURRENT_SOURCE_DIR}/${script})
    set_tests_properties(${name} PROPERTIES
        SKIP_RETURN_CODE 77 TIMEOUT ${T_TIMEOUT} LABELS "integration;${T_LABELS}"
        ENVIRONMENT "BIN=${CMAKE_BINARY_DIR}/bin;SRC=${CMAKE_SOURCE_DIR};BUILD=${CMAKE_BINARY_DIR};TESTNAME=${name}")
endfunction()
