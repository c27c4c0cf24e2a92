# Warnings, language level and sanitizers as INTERFACE targets: a target opts in
# by linking netlab::options; nothing is put into global CMAKE_CXX_FLAGS.
add_library(netlab_options INTERFACE)
add_library(netlab::options ALIAS netlab_options)
target_compile_features(netlab_options INTERFACE cxx_std_20)
# -Wshadow, -Wconversion and -Wold-style-cast found real slips here (a local
# `udp` hiding the protocol's alias, random 64-bit numbers cut to 32 bits
# unannounced, C casts hidden in OpenSSL's macros); the code is kept clean of them.
target_compile_options(netlab_options INTERFACE -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wold-style-cast)
# GCC warns -Wmismatched-new-delete on Asio's coroutine frames (their class
# operator new and sized operator delete) once Asio is compiled separately:
# GCC bug 109224, a false positive still open in GCC 15. ASan's
# alloc-dealloc-mismatch check still runs in the asan preset.
target_compile_options(netlab_options INTERFACE $<$<CXX_COMPILER_ID:GNU>:-Wno-mismatched-new-delete>)
target_compile_definitions(netlab_options INTERFACE
  BOOST_ASIO_NO_DEPRECATED
  BOOST_ASIO_DISABLE_BOOST_ARRAY
  BOOST_ASIO_DISABLE_BOOST_BIND
  BOOST_ASIO_DISABLE_BOOST_DATE_TIME
  BOOST_ASIO_DISABLE_BOOST_REGEX
  # Asio's and Beast's non-template code is compiled once, in
  # common/program/boost_compiled.cpp (and Asio SSL's in common/tls/asio_ssl.cpp),
  # instead of in every file that includes them (issue #20: the first build).
  BOOST_ASIO_SEPARATE_COMPILATION
  BOOST_BEAST_SEPARATE_COMPILATION
  # Failed Boost assertions go to netlab's handler (common/program/boost_assert.cpp):
  # it aborts like assert() except for one assertion that is wrong in Boost 1.81.
  # The DEBUG variant keeps NDEBUG builds (default, release) free of Boost's
  # assertions, as assert() would; BOOST_ENABLE_ASSERT_HANDLER would turn them
  # all on there.
  BOOST_ENABLE_ASSERT_DEBUG_HANDLER)

# RelWithDebInfo (the default preset: scripts/lab's build and scripts/test.sh's)
# keeps line tables only (-g1, after CMake's -g, so it wins): backtraces still
# name functions, files and lines, but the full DWARF of Asio's and Beast's
# templates is not written. Measured (issue 20), servers/http_server.cpp:
# 50.8 CPU s with -g, 37.8 with -g1, 36.0 with -g0; its object 27 MB -> 10 MB.
# No test reads debug info; the asan preset (Debug) keeps full -g.
target_compile_options(netlab_options INTERFACE $<$<CONFIG:RelWithDebInfo>:-g1>)

if(NETLAB_SANITIZE)
  target_compile_options(netlab_options INTERFACE
    -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(netlab_options INTERFACE -fsanitize=address,undefined)
endif()

# Unity builds (issue 20, the clean build): the libraries of common/ and tools/,
# the lab programs (netlab_lab) and the test executables compile their files in batches of
# NETLAB_UNITY_BATCH, one translation unit per batch, so the headers every file
# shares (Asio, Beast, Boost.JSON, spdlog, CLI11, Catch2) are parsed once per
# batch instead of once per file (docs/performance.md: measured). A file that
# must stay alone sets SKIP_UNITY_BUILD_INCLUSION. -DNETLAB_UNITY_BUILD=OFF
# compiles every file on its own (its errors then point at it alone).
option(NETLAB_UNITY_BUILD "Compile common libraries, lab programs and tests in unity batches" ON)
set(NETLAB_UNITY_BATCH 8 CACHE STRING "Files per unity batch (NETLAB_UNITY_BUILD)")

# netlab_unity(<target>...): the targets compile in unity batches.
function(netlab_unity)
  if(NETLAB_UNITY_BUILD)
    set_target_properties(${ARGN} PROPERTIES UNITY_BUILD ON UNITY_BUILD_BATCH_SIZE ${NETLAB_UNITY_BATCH})
    # GCC's -Wsubobject-linkage is meant for headers: it stays quiet for types
    # of the main file, and in a unity batch every file but the first is an
    # included one, so each coroutine frame that holds a type of a .cpp file's
    # anonymous namespace is reported (a false positive there: the batch is one
    # translation unit). The same files compiled one by one give no warning.
    foreach(target ${ARGN})
      target_compile_options(${target} PRIVATE $<$<CXX_COMPILER_ID:GNU>:-Wno-subobject-linkage>)
    endforeach()
  endif()
endfunction()

# netlab_program(<name> <source>): one lab executable, linked with the common library.
function(netlab_program name source)
  add_executable(${name} ${source})
  target_link_libraries(${name} PRIVATE netlab::common)
  set_property(GLOBAL APPEND PROPERTY NETLAB_PROGRAMS ${name})
endfunction()

# netlab_lab(<lab> [LINK <targets>...]): a lab's pair of programs from its own
# files, with nothing else to edit (README, Layout: "to add a lab"):
#   netlab-<lab>-server  servers/<lab>_server.cpp and servers/<lab>/*.cpp
#   netlab-<lab>-client  clients/<lab>_client.cpp and clients/<lab>/*.cpp
# A lab's folder is globbed (CONFIGURE_DEPENDS): a new file there is built
# without touching a CMakeLists. Each program includes from its side's folder
# (clients/observed.hpp, "handshake/failures.hpp"). LINK: what it uses beyond
# netlab::common (netlab::tls for the https pair).
function(netlab_lab lab)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "LINK")
  foreach(side server client)
    set(dir ${PROJECT_SOURCE_DIR}/${side}s)
    set(main ${dir}/${lab}_${side}.cpp)
    if(NOT EXISTS ${main})
      message(FATAL_ERROR "netlab_lab(${lab}): ${side}s/${lab}_${side}.cpp is missing")
    endif()
    file(GLOB parts CONFIGURE_DEPENDS ${dir}/${lab}/*.cpp)
    netlab_program(netlab-${lab}-${side} ${main})
    target_sources(netlab-${lab}-${side} PRIVATE ${parts})
    target_include_directories(netlab-${lab}-${side} PRIVATE ${dir})
    target_link_libraries(netlab-${lab}-${side} PRIVATE ${arg_LINK})
    # Unity batches, but a file with a kernel header (<linux/tcp.h>) compiles
    # alone: it redefines what <netinet/tcp.h>, included by Asio, declares.
    foreach(part ${parts})
      file(STRINGS ${part} kernel_header REGEX "^#include <linux/")
      if(kernel_header)
        set_source_files_properties(${part} PROPERTIES SKIP_UNITY_BUILD_INCLUSION ON)
      endif()
    endforeach()
    netlab_unity(netlab-${lab}-${side})
  endforeach()
endfunction()
