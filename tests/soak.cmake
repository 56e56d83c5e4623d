# Soak test (label "soak"): tests/soak/soak.py runs evd for N minutes under
# frequent jobs, reloads, outside kills and evdctl traffic, and fails on
# growth of descriptors, threads, RSS or zombies, or on a lost run. ctest
# runs two minutes of it (soak/2min); by hand: tests/soak/soak.py build/evd
# --minutes 10. Sanitizer builds get EVD_E2E_SLOW=1: RSS is not checked there.
# Included by tests/CMakeLists.txt.
if(NOT EVD_E2E_PYTHON)
  if(EXISTS /usr/bin/python3)
    set(EVD_E2E_PYTHON /usr/bin/python3)
  else()
    find_program(EVD_E2E_PYTHON python3 REQUIRED)
  endif()
endif()
if(EVD_SANITIZE)
  set(EVD_SOAK_ENV "EVD_E2E_SLOW=1")
else()
  set(EVD_SOAK_ENV "EVD_E2E_SLOW=0")
endif()
add_test(NAME soak/2min
         COMMAND ${EVD_E2E_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/soak/soak.py $<TARGET_FILE:evd> --minutes 2)
set_tests_properties(soak/2min PROPERTIES LABELS "soak;slow" TIMEOUT 400 SKIP_RETURN_CODE 77
                     ENVIRONMENT "${EVD_SOAK_ENV};PYTHONDONTWRITEBYTECODE=1")
