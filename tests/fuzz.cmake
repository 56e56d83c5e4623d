# Fuzz targets' corpora replayed as ordinary tests (label "fuzz"): for each
# fuzz/fuzz_NAME.c a replay_NAME executable (the target plus
# fuzz/replay_main.c) runs every file of fuzz/corpus/NAME/ through
# LLVMFuzzerTestOneInput. Real libFuzzer builds: fuzz/CMakeLists.txt.
file(GLOB EVD_FUZZ_TARGETS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/fuzz/fuzz_*.c)
foreach(src ${EVD_FUZZ_TARGETS})
  get_filename_component(target ${src} NAME_WE)
  string(REGEX REPLACE "^fuzz_" "" name ${target})
  add_executable(replay_${name} ${src} ${CMAKE_SOURCE_DIR}/fuzz/replay_main.c)
  target_link_libraries(replay_${name} PRIVATE evdcore)
  add_test(NAME fuzz-replay/${name}
           COMMAND replay_${name} ${CMAKE_SOURCE_DIR}/fuzz/corpus/${name})
  set_tests_properties(fuzz-replay/${name} PROPERTIES LABELS "fuzz" TIMEOUT 300)
endforeach()
