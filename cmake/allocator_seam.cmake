# allocator_seam.cmake: which allocator code is under test. Defines ks_allocator (the allocator API:
# KsCreateAllocator, KsCreateDefaultAllocator(Ex), KsValidateAllocatorCreateRequest,
# KsValidateAllocatorFramingEx) and ks_fs_allocator (the test filter pin's filter-specific allocator).
# Built in: allocator/ and allocator_fs/. The seam (docs/fuzzing-your-own-allocator.md) swaps one of them:
#   KM_ALLOCATOR_SOURCES="a.c;b.c" [KM_ALLOCATOR_INCLUDE_DIRS="dir;..."]
#     without KM_ALLOCATOR_CREATE_HANDLER: the sources replace allocator/ (a whole allocator API)
#     with KM_ALLOCATOR_CREATE_HANDLER=Routine: the sources are a driver's own allocator; Routine is its
#       allocator create-item handler, replacing allocator_fs/, and every run uses it by default
#   Each may also come from the environment (below), which is what docs/fuzzing-your-own-allocator.md uses.
# Seam sources see include/ (+ their own dirs) only, get include/km_wdk_prelude.h force-included, and
# their library is checked by tools/seam/check_routines.py against docs/provided-routines.md.
set(KM_ALLOCATOR_SOURCES "" CACHE STRING "C sources of another allocator implementation (';'-separated)")
set(KM_ALLOCATOR_INCLUDE_DIRS "" CACHE STRING "their private include directories (';'-separated)")
set(KM_ALLOCATOR_CREATE_HANDLER "" CACHE STRING "their allocator create-item DRIVER_DISPATCH routine (driver mode)")
# The same three variables in the environment override the cache at every configure, so that one
# `export` selects the code under test for every preset the runner and the gate build (an exported empty
# value selects the built-in code again); unset, the cache (or -D) decides.
foreach(var KM_ALLOCATOR_SOURCES KM_ALLOCATOR_INCLUDE_DIRS KM_ALLOCATOR_CREATE_HANDLER)
  if(DEFINED ENV{${var}})
    set(${var} "$ENV{${var}}" CACHE STRING "" FORCE)
  endif()
endforeach()
find_package(Python3 3.11 COMPONENTS Interpreter REQUIRED)

# Absolute paths (relative ones are taken from the source tree), each of which must exist.
function(km_seam_paths out what kind)
  set(result)
  foreach(p IN LISTS ARGN)
    get_filename_component(abs "${p}" ABSOLUTE BASE_DIR ${CMAKE_SOURCE_DIR})
    if(kind STREQUAL "dir" AND NOT IS_DIRECTORY "${abs}")
      message(FATAL_ERROR "${what}: '${p}' is not a directory (${abs})")
    elseif(kind STREQUAL "file" AND (NOT EXISTS "${abs}" OR IS_DIRECTORY "${abs}"))
      message(FATAL_ERROR "${what}: '${p}' is not a file (${abs})")
    endif()
    list(APPEND result "${abs}")
  endforeach()
  set(${out} ${result} PARENT_SCOPE)
endfunction()

function(km_builtin_library name dir)
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/${dir}/*.c)
  add_library(${name} STATIC ${sources})
  target_link_libraries(${name} PRIVATE km_headers)
endfunction()

function(km_seam_library name mode)
  km_seam_paths(sources KM_ALLOCATOR_SOURCES file ${KM_ALLOCATOR_SOURCES})
  km_seam_paths(dirs KM_ALLOCATOR_INCLUDE_DIRS dir ${KM_ALLOCATOR_INCLUDE_DIRS})
  add_library(${name} STATIC ${sources})
  target_link_libraries(${name} PRIVATE km_headers)
  target_include_directories(${name} PRIVATE ${dirs})
  target_compile_options(${name} PRIVATE -include ${CMAKE_SOURCE_DIR}/include/km_wdk_prelude.h)
  set(handler)
  if(mode STREQUAL "driver")
    set(handler --handler ${KM_ALLOCATOR_CREATE_HANDLER})
  endif()
  add_custom_command(TARGET ${name} POST_BUILD
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tools/seam/check_routines.py --nm ${CMAKE_NM}
            --mode ${mode} ${handler} $<TARGET_FILE:${name}>
    COMMENT "Checking the routines KM_ALLOCATOR_SOURCES call against docs/provided-routines.md"
    VERBATIM)
endfunction()

if(NOT KM_ALLOCATOR_SOURCES AND (KM_ALLOCATOR_INCLUDE_DIRS OR KM_ALLOCATOR_CREATE_HANDLER))
  message(FATAL_ERROR "KM_ALLOCATOR_INCLUDE_DIRS / KM_ALLOCATOR_CREATE_HANDLER need KM_ALLOCATOR_SOURCES")
endif()
if(KM_ALLOCATOR_CREATE_HANDLER AND NOT KM_ALLOCATOR_CREATE_HANDLER MATCHES "^[A-Za-z_][A-Za-z0-9_]*$")
  message(FATAL_ERROR "KM_ALLOCATOR_CREATE_HANDLER='${KM_ALLOCATOR_CREATE_HANDLER}' is not a C identifier")
endif()

set(KM_SEAM_MODE "builtin")
if(KM_ALLOCATOR_SOURCES AND KM_ALLOCATOR_CREATE_HANDLER)
  set(KM_SEAM_MODE "driver")
  km_builtin_library(ks_allocator allocator)
  km_seam_library(ks_fs_allocator driver)
elseif(KM_ALLOCATOR_SOURCES)
  set(KM_SEAM_MODE "api")
  km_seam_library(ks_allocator api)
  km_builtin_library(ks_fs_allocator allocator_fs)
else()
  km_builtin_library(ks_allocator allocator)
  km_builtin_library(ks_fs_allocator allocator_fs)
endif()
if(NOT KM_SEAM_MODE STREQUAL "driver") # allocator_fs/ is written for the WDK, like seam sources
  target_compile_options(ks_fs_allocator PRIVATE -include ${CMAKE_SOURCE_DIR}/include/km_wdk_prelude.h)
endif()
message(STATUS "allocator under test: ${KM_SEAM_MODE} ${KM_ALLOCATOR_SOURCES} ${KM_ALLOCATOR_CREATE_HANDLER}")
# The code under test, for tools that measure it (the gate's coverage step): the mode, then one absolute
# source per line. Built in, that is allocator/ (the default allocator the suites are written for).
if(KM_SEAM_MODE STREQUAL "builtin")
  get_target_property(km_under_test ks_allocator SOURCES)
else()
  km_seam_paths(km_under_test KM_ALLOCATOR_SOURCES file ${KM_ALLOCATOR_SOURCES})
endif()
list(JOIN km_under_test "\n" km_under_test)
file(WRITE ${CMAKE_BINARY_DIR}/code-under-test.txt "${KM_SEAM_MODE}\n${km_under_test}\n")
set(KM_CODE_UNDER_TEST ks_allocator ks_fs_allocator)
