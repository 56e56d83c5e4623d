# End-to-end tests of the real evd binary (label "e2e"): each
# tests/e2e/test_NAME.py is one ctest test, e2e/NAME, run by Debian's
# python3 (stdlib only) with the evd binary as its argument. They start
# private daemons in temporary directories and run in parallel (ctest -j).
# Exit 77 is a skip (e.g. a test that needs root run as another user).
# Sanitizer builds are several times slower: EVD_E2E_SLOW=1 shrinks the
# heavy tests and stretches the harness's deadlines.
# Included by tests/CMakeLists.txt.
if(EXISTS /usr/bin/python3)
  set(EVD_E2E_PYTHON /usr/bin/python3)
else()
  find_program(EVD_E2E_PYTHON python3 REQUIRED)
endif()

if(EVD_SANITIZE)
  set(EVD_E2E_ENV "EVD_E2E_SLOW=1")
else()
  set(EVD_E2E_ENV "EVD_E2E_SLOW=0")
endif()

file(GLOB EVD_E2E_TESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/e2e/test_*.py)
foreach(script ${EVD_E2E_TESTS})
  get_filename_component(name ${script} NAME_WE)
  string(REGEX REPLACE "^test_" "" name ${name})
  add_test(NAME e2e/${name} COMMAND ${EVD_E2E_PYTHON} ${script} $<TARGET_FILE:evd>)
  set_tests_properties(e2e/${name} PROPERTIES
                       LABELS "e2e" TIMEOUT 300 SKIP_RETURN_CODE 77
                       ENVIRONMENT "${EVD_E2E_ENV};PYTHONDONTWRITEBYTECODE=1")
endforeach()
# The longest tests first, so that ctest -j spreads them over the cores.
foreach(t spine reload many_runs limits overlap)
  if(TEST e2e/${t})
    set_tests_properties(e2e/${t} PROPERTIES COST 100)
  endif()
endforeach()
