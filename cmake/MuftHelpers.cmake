# Helpers shared by every module: one line declares a library module, one line a test.

# muft_add_module(NAME <name> SOURCES <...> [PUBLIC_DEPS <...>] [PRIVATE_DEPS <...>])
# Creates target muft_<name> with alias muft::<name>, public headers in
# lib/<name>/include, private sources in lib/<name>/src.
function(muft_add_module)
  cmake_parse_arguments(M "" "NAME" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  set(tgt muft_${M_NAME})
  if(M_SOURCES)
    add_library(${tgt} ${M_SOURCES})
    target_include_directories(${tgt} PUBLIC
      $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
      $<INSTALL_INTERFACE:include>)
    target_link_libraries(${tgt} PUBLIC ${M_PUBLIC_DEPS} PRIVATE ${M_PRIVATE_DEPS})
    target_compile_features(${tgt} PUBLIC cxx_std_17)
    target_compile_options(${tgt} PRIVATE ${MUFT_WARNINGS})
  else()
    add_library(${tgt} INTERFACE)
    target_include_directories(${tgt} INTERFACE
      $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
      $<INSTALL_INTERFACE:include>)
    target_link_libraries(${tgt} INTERFACE ${M_PUBLIC_DEPS})
    target_compile_features(${tgt} INTERFACE cxx_std_17)
  endif()
  if(MUFT_SANITIZE AND M_SOURCES)
    # Instrumented static libraries need the sanitizer runtimes in whatever links them, also in
    # a project that uses an installed muft.
    target_link_options(${tgt} INTERFACE -fsanitize=address,undefined)
  endif()
  if(MUFT_PYTHON AND M_SOURCES)
    # The static libraries get linked into the Python extension, a shared object. Only they:
    # executables and tests keep the flags of a build without the module.
    set_target_properties(${tgt} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  endif()
  set_target_properties(${tgt} PROPERTIES EXPORT_NAME ${M_NAME})
  add_library(muft::${M_NAME} ALIAS ${tgt})
  install(TARGETS ${tgt} EXPORT muftTargets
    ARCHIVE DESTINATION lib COMPONENT dev LIBRARY DESTINATION lib COMPONENT dev)
  install(DIRECTORY include/ DESTINATION include COMPONENT dev)
endfunction()

# muft_test(<name> SOURCES <...> DEPS <...> [LABELS <...>])
# One GoogleTest executable registered in CTest (tests discovered individually).
# Label "torch" marks tests that need LibTorch; "slow" marks tests over ~30 s.
function(muft_test name)
  cmake_parse_arguments(T "" "" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_DEPS} GTest::gtest GTest::gtest_main)
  target_compile_options(${name} PRIVATE ${MUFT_WARNINGS})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  gtest_discover_tests(${name}
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
    TEST_PREFIX "${name}."
    PROPERTIES LABELS "${T_LABELS}"
    DISCOVERY_TIMEOUT 60)
endfunction()

# muft_app(<name> SOURCES <...> DEPS <...>): a thin executable in build/bin. Every app links
# muft::platform, whose start() each main() calls first (BLAS core selection, docs/platform.md).
function(muft_app name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  target_link_libraries(${name} PRIVATE ${A_DEPS} muft::platform)
  target_compile_options(${name} PRIVATE ${MUFT_WARNINGS})
  install(TARGETS ${name} RUNTIME DESTINATION bin COMPONENT apps)
endfunction()
