# fuzz_engine.cmake: which fuzzing engine the fuzz targets link against (KM_FUZZ_ENGINE), and the
# compile flags that engine needs on EVERY library (coverage feedback must reach allocator/ and harness/).
# Included before any library is defined; the targets themselves are in cmake/fuzz_targets.cmake.
#   replay     (default) a standalone main, fuzz/standalone_main.c: runs files, no fuzzing
#   libfuzzer  -fsanitize=fuzzer-no-link everywhere, targets linked with -fsanitize=fuzzer
#   afl        compiled by afl-clang-fast (the preset sets it), persistent-mode driver fuzz/afl_main.c;
#              KM_AFL_CMPLOG=ON builds everything with AFL_LLVM_CMPLOG=1 (the binary for afl-fuzz -c)
#   external   OSS-Fuzz / ClusterFuzzLite (tools/ossfuzz/build.sh): every flag comes from $CFLAGS, targets
#              link KM_LIB_FUZZING_ENGINE ($LIB_FUZZING_ENGINE) and executables link with KM_FUZZ_LINKER ($CXX)
set(KM_FUZZ_ENGINE "replay" CACHE STRING "replay | libfuzzer | afl | external")
set_property(CACHE KM_FUZZ_ENGINE PROPERTY STRINGS replay libfuzzer afl external)
option(KM_AFL_CMPLOG "afl engine: instrument with AFL_LLVM_CMPLOG=1 (a CMPLOG build for afl-fuzz -c)" OFF)

if(KM_FUZZ_ENGINE STREQUAL "replay")
  if(KM_AFL_CMPLOG)
    message(FATAL_ERROR "KM_AFL_CMPLOG=ON needs KM_FUZZ_ENGINE=afl (it is '${KM_FUZZ_ENGINE}')")
  endif()
elseif(KM_FUZZ_ENGINE STREQUAL "libfuzzer")
  if(KM_AFL_CMPLOG)
    message(FATAL_ERROR "KM_AFL_CMPLOG=ON needs KM_FUZZ_ENGINE=afl (it is '${KM_FUZZ_ENGINE}')")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
  add_compile_definitions(FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION)
  # The kernel model (harness/) keeps edge coverage but not comparison tracing: its comparisons are
  # pointer lookups, handle-table scans and verifier checks, not the code under test, and tracing them
  # cost a fifth of every create (create_irp, ten creates per input: 192 -> 148 us). The allocator,
  # the driver and the interpreter keep both. Dictionaries (fuzz/dict/) carry the class strings.
  set(KM_MODEL_COVERAGE_OPTIONS -fno-sanitize-coverage=trace-cmp)
elseif(KM_FUZZ_ENGINE STREQUAL "afl")
  get_filename_component(km_cc_name "${CMAKE_C_COMPILER}" NAME)
  if(NOT km_cc_name MATCHES "^afl-clang-fast")
    message(FATAL_ERROR "KM_FUZZ_ENGINE=afl needs CMAKE_C_COMPILER=afl-clang-fast (found '${CMAKE_C_COMPILER}'); "
                        "use the afl or afl-cmplog preset, or install AFL++ (Debian: apt-get install afl++)")
  endif()
  add_compile_definitions(FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION)
  # afl-clang-fast (4.04c) ignores __attribute__((no_sanitize("coverage"))): the functions marked
  # KM_NO_COVERAGE (harness/core_internal.h; their edges depend on host addresses or on earlier inputs)
  # are left uninstrumented through its deny list instead, read from the environment at every compile.
  # Keep fuzz/afl_denylist.txt in step with the KM_NO_COVERAGE functions (AFL++ stability must stay 100%);
  # it also lists the persistent driver (fuzz/afl_main.c: main runs once per fork, the loop per input, so
  # its blocks made even fuzz_noop 87.5% stable). Editing the list rebuilds nothing: clean the afl builds.
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/../fuzz/afl_denylist.txt)
  set(km_afl_env AFL_LLVM_DENYLIST=${CMAKE_CURRENT_LIST_DIR}/../fuzz/afl_denylist.txt)
  if(KM_AFL_CMPLOG)
    # afl-clang-fast reads AFL_LLVM_CMPLOG from its environment, at every compile and link.
    list(APPEND km_afl_env AFL_LLVM_CMPLOG=1)
  endif()
  set(CMAKE_C_COMPILER_LAUNCHER env ${km_afl_env})
  set(CMAKE_C_LINKER_LAUNCHER env ${km_afl_env})
elseif(KM_FUZZ_ENGINE STREQUAL "external")
  set(KM_LIB_FUZZING_ENGINE "" CACHE STRING "external engine: $LIB_FUZZING_ENGINE (-fsanitize=fuzzer or a driver archive)")
  set(KM_FUZZ_LINKER "" CACHE STRING "external engine: the linker driver ($CXX); OSS-Fuzz links even C with it")
  if(NOT KM_LIB_FUZZING_ENGINE OR NOT KM_FUZZ_LINKER)
    message(FATAL_ERROR "KM_FUZZ_ENGINE=external needs KM_LIB_FUZZING_ENGINE and KM_FUZZ_LINKER "
                        "(tools/ossfuzz/build.sh sets them from $LIB_FUZZING_ENGINE and $CXX)")
  endif()
  separate_arguments(KM_LIB_FUZZING_ENGINE_ITEMS UNIX_COMMAND "${KM_LIB_FUZZING_ENGINE}")
  # <LINK_FLAGS> carries CMAKE_EXE_LINKER_FLAGS, which build.sh sets to $CXXFLAGS: `$CXX $CXXFLAGS ... $LIB_FUZZING_ENGINE`.
  set(CMAKE_C_LINK_EXECUTABLE "${KM_FUZZ_LINKER} <CMAKE_C_LINK_FLAGS> <LINK_FLAGS> <OBJECTS> -o <TARGET> <LINK_LIBRARIES>")
else()
  message(FATAL_ERROR "unknown KM_FUZZ_ENGINE '${KM_FUZZ_ENGINE}' (expected replay, libfuzzer, afl or external)")
endif()
