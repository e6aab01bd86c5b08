# fuzz_targets.cmake: one executable fuzz_<name> per fuzz/targets/<name>.c (the registry rule is in
# cmake/fuzz_registry.cmake), linked for KM_FUZZ_ENGINE (cmake/fuzz_engine.cmake), plus fuzz_noop, the
# ceiling target with the same flags; and the seed corpus, encoded from corpus/<name>/*.ops text into
# build/<preset>/corpus/<name>/ at build time by tools/fuzzing/encode_corpus.py.
include(${CMAKE_CURRENT_LIST_DIR}/fuzz_registry.cmake)
km_fuzz_registry(${CMAKE_SOURCE_DIR} KM_FUZZ_TARGETS)

find_package(Python3 3.11 COMPONENTS Interpreter REQUIRED)
option(KM_FUZZ_MUTATOR "libfuzzer engine: link the structure-aware custom mutator into every fuzz_<target>" ON)

if(KM_FUZZ_ENGINE STREQUAL "replay")
  set(KM_FUZZ_MAIN ${CMAKE_SOURCE_DIR}/fuzz/standalone_main.c)
elseif(KM_FUZZ_ENGINE STREQUAL "afl")
  set(KM_FUZZ_MAIN ${CMAKE_SOURCE_DIR}/fuzz/afl_main.c)
else()
  set(KM_FUZZ_MAIN)
endif()

# The interpreter library (fuzz/interp.h) is what every target but decoder runs.
set(KM_FUZZ_INTERP_LIB op_interp)

function(km_fuzz_executable name source)
  add_executable(fuzz_${name} ${source} ${KM_FUZZ_MAIN})
  target_include_directories(fuzz_${name} PRIVATE ${CMAKE_SOURCE_DIR}/fuzz)
  target_compile_definitions(fuzz_${name} PRIVATE FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION)
  target_link_libraries(fuzz_${name} PRIVATE op_lang)
  if(KM_FUZZ_ENGINE STREQUAL "libfuzzer")
    target_link_options(fuzz_${name} PRIVATE -fsanitize=fuzzer)
    if(KM_FUZZ_MUTATOR AND TARGET op_mutator_libfuzzer)
      # The structure-aware mutator (LLVMFuzzerCustomMutator/CustomCrossOver); AFL++ gets the same core
      # as a custom mutator library (afl_op_mutator, AFL_CUSTOM_MUTATOR_LIBRARY, set by run_tests.py fuzz).
      target_link_libraries(fuzz_${name} PRIVATE op_mutator_libfuzzer)
    endif()
  elseif(KM_FUZZ_ENGINE STREQUAL "external")
    # build.sh turns the custom mutator off for AFL++ (libAFLDriver never calls it).
    if(KM_FUZZ_MUTATOR AND TARGET op_mutator_libfuzzer)
      target_link_libraries(fuzz_${name} PRIVATE op_mutator_libfuzzer)
    endif()
    target_link_libraries(fuzz_${name} PRIVATE ${KM_LIB_FUZZING_ENGINE_ITEMS})
  endif()
  add_dependencies(fuzz_targets fuzz_${name})
endfunction()

add_custom_target(fuzz_targets)
km_fuzz_executable(noop ${CMAKE_SOURCE_DIR}/fuzz/noop_target.c)

set(KM_FUZZ_BUILT)
foreach(name IN LISTS KM_FUZZ_TARGETS)
  set(source ${CMAKE_SOURCE_DIR}/fuzz/targets/${name}.c)
  file(STRINGS ${source} uses_interp REGEX "op_run(_bytes|_untraced)?\\(")
  if(uses_interp AND NOT TARGET ${KM_FUZZ_INTERP_LIB})
    message(WARNING "fuzz target ${name} calls the interpreter, but this tree has no '${KM_FUZZ_INTERP_LIB}' "
                    "library (fuzz/interp.c not merged yet): fuzz_${name} is not built")
    continue()
  endif()
  km_fuzz_executable(${name} ${source})
  if(name STREQUAL "decoder" AND KM_FUZZ_ENGINE STREQUAL "libfuzzer")
    # The codec is this target's subject: its own instrumented copy of op_lang's sources (op_lang itself
    # is built without coverage under libFuzzer; these objects come first, so no archive member is used).
    target_sources(fuzz_${name} PRIVATE ${OP_LANG_SOURCES})
  endif()
  if(uses_interp)
    target_link_libraries(fuzz_${name} PRIVATE ${KM_FUZZ_INTERP_LIB})
    km_link_everything(fuzz_${name})
  endif()
  list(APPEND KM_FUZZ_BUILT ${name})

  file(GLOB seeds CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/corpus/${name}/*.ops)
  set(stamp ${CMAKE_BINARY_DIR}/corpus/${name}.stamp)
  add_custom_command(
    OUTPUT ${stamp}
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tools/fuzzing/encode_corpus.py
            ${CMAKE_SOURCE_DIR}/corpus/${name} ${CMAKE_BINARY_DIR}/corpus/${name} --stamp ${stamp}
    DEPENDS ${seeds} ${CMAKE_SOURCE_DIR}/fuzz/ops.def ${CMAKE_SOURCE_DIR}/tools/opcodec.py
            ${CMAKE_SOURCE_DIR}/tools/fuzzing/encode_corpus.py
    COMMENT "Encoding the seed corpus of ${name}"
    VERBATIM)
  add_custom_target(fuzz_corpus_${name} ALL DEPENDS ${stamp})
  add_dependencies(fuzz_targets fuzz_corpus_${name})
endforeach()
# What was built, for tools (the runner's corpus-replay suite, the campaign): one name per line.
list(JOIN KM_FUZZ_BUILT "\n" km_fuzz_built_text)
file(WRITE ${CMAKE_BINARY_DIR}/fuzz_targets.txt "${km_fuzz_built_text}\n")
