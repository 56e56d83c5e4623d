# Fault tests (label "faults", also "e2e"): each tests/faults/test_NAME.py is
# one ctest test, faults/NAME, run like the e2e tests (Debian's python3,
# stdlib only, the evd binary as argument; exit 77 is a skip). They use the
# e2e harness through tests/faults/faultlib.py and need root for most cases
# (throw-away users, mount namespaces). Expected behaviours: faults/README.md.
# $EVD_TEST_WRAPPER, if set, is put in front of evd (e.g. valgrind).
# Included by tests/CMakeLists.txt.
if(NOT EVD_E2E_PYTHON)
  if(EXISTS /usr/bin/python3)
    set(EVD_E2E_PYTHON /usr/bin/python3)
  else()
    find_program(EVD_E2E_PYTHON python3 REQUIRED)
  endif()
endif()
if(EVD_SANITIZE)
  set(EVD_FAULTS_ENV "EVD_E2E_SLOW=1")
else()
  set(EVD_FAULTS_ENV "EVD_E2E_SLOW=0")
endif()

file(GLOB EVD_FAULT_TESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/faults/test_*.py)
foreach(script ${EVD_FAULT_TESTS})
  get_filename_component(name ${script} NAME_WE)
  string(REGEX REPLACE "^test_" "" name ${name})
  add_test(NAME faults/${name} COMMAND ${EVD_E2E_PYTHON} ${script} $<TARGET_FILE:evd>)
  # The crontab faults wait for real minute boundaries (cron's
  # granularity): label slow (CI runs them in the normal build, next to the
  # other tests, not in the sanitizer passes); the rest are e2e.
  if(name MATCHES "^crontab_")
    set(labels "faults;crontab;slow")
  else()
    set(labels "e2e;faults")
  endif()
  set_tests_properties(faults/${name} PROPERTIES
                       LABELS "${labels}" TIMEOUT 300 SKIP_RETURN_CODE 77
                       ENVIRONMENT "${EVD_FAULTS_ENV};PYTHONDONTWRITEBYTECODE=1")
endforeach()
