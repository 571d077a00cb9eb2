# SPDX-License-Identifier: Apache-2.0
# causeway_test(NAME SOURCES ... LIBS ... LABELS ... [TIMEOUT s])
# One Catch2 v2 executable per test file group; registered with CTest under its labels
# (unit, dpdk, netns, interop, fuzz; STYLE.md 11).
include(CMakeParseArguments)
add_library(causeway_catch_main STATIC ${CMAKE_CURRENT_LIST_DIR}/catch_main.cc)
target_link_libraries(causeway_catch_main PUBLIC Catch2::Catch2)

function(causeway_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE causeway_catch_main ${T_LIBS})
  add_test(NAME ${name} COMMAND ${name})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT})
endfunction()

# causeway_script_test(NAME SCRIPT path [ARGS ...] LABELS ... [TIMEOUT s] [SERIAL])
# A shell-script test (namespaces, real daemons). SERIAL for tests that measure rates or
# latencies or start many processes, so that CTest runs them alone.
function(causeway_script_test name)
  cmake_parse_arguments(T "SERIAL" "SCRIPT;TIMEOUT" "ARGS;LABELS" ${ARGN})
  add_test(NAME ${name} COMMAND ${T_SCRIPT} ${T_ARGS})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT})
  if(T_SERIAL)
    set_tests_properties(${name} PROPERTIES RUN_SERIAL TRUE)
  endif()
endfunction()
