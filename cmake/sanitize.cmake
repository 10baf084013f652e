# Sanitizers and fuzzing (docs in tests/fuzz/README.md and scripts/test.sh).
#
# DDLCOORD_SANITIZE: OFF, ON (= address: AddressSanitizer + UndefinedBehavior-
# Sanitizer) or thread (ThreadSanitizer). Any true value builds with a
# sanitizer runtime, so `if(DDLCOORD_SANITIZE)` still means "sanitized" to
# the rest of the build (plugins then leave the runtime's symbols undefined);
# DC_SANITIZE_THREAD is set for the TSan build.
#
# DDLCOORD_FUZZ (clang only): every object gets libFuzzer's coverage
# instrumentation (-fsanitize=fuzzer-no-link) and tests/fuzz links its targets
# with -fsanitize=fuzzer. Without it the targets still build, with a replay
# main (tests/fuzz/replay.c), so that every build replays the corpora.
set(DDLCOORD_SANITIZE OFF CACHE STRING "OFF, ON/address (ASan+UBSan) or thread (TSan)")
option(DDLCOORD_FUZZ "Build the libFuzzer targets of tests/fuzz (clang)" OFF)

set(DC_SANITIZE_THREAD OFF)
string(TOLOWER "${DDLCOORD_SANITIZE}" dc_san)
if(dc_san STREQUAL "thread")
  set(DC_SANITIZE_THREAD ON)
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
elseif(DDLCOORD_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

if(DDLCOORD_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "DDLCOORD_FUZZ=ON needs clang (libFuzzer): -DCMAKE_C_COMPILER=clang")
  endif()
  if(DC_SANITIZE_THREAD)
    message(FATAL_ERROR "DDLCOORD_FUZZ=ON goes with DDLCOORD_SANITIZE=ON (ASan), not thread")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
