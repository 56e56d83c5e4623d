# valgrind memcheck (label "valgrind"): tests/valgrind/run.py runs a subset
# of the e2e and fault tests with every evd they start under
#   valgrind --leak-check=full --errors-for-leak-kinds=definite
#            --error-exitcode=99 --track-fds=yes
# and fails on any memcheck error, definite leak, or descriptor evd opened
# and left open at exit. Only in builds without sanitizers (valgrind and
# ASan/TSan do not mix); skipped (77) when valgrind is not installed.
# (Under valgrind, which refuses CLONE_VM alone, spawn clones a copy of evd
# as fork does; failures before execve come back through the status pipe
# all the same.) Left out of the subset: timing-heavy or root-only system
# tests that valgrind makes too slow.
# Included by tests/CMakeLists.txt.
if(NOT EVD_SANITIZE)
  if(NOT EVD_E2E_PYTHON)
    if(EXISTS /usr/bin/python3)
      set(EVD_E2E_PYTHON /usr/bin/python3)
    else()
      find_program(EVD_E2E_PYTHON python3 REQUIRED)
    endif()
  endif()
  set(_t ${CMAKE_CURRENT_SOURCE_DIR})
  add_test(NAME valgrind/memcheck
           COMMAND ${EVD_E2E_PYTHON} ${_t}/valgrind/run.py $<TARGET_FILE:evd>
                   ${_t}/e2e/test_spine.py
                   ${_t}/e2e/test_reload.py
                   ${_t}/e2e/test_retries.py
                   ${_t}/e2e/test_overlap.py
                   ${_t}/e2e/test_output.py
                   ${_t}/e2e/test_shutdown.py
                   ${_t}/e2e/test_limits.py
                   ${_t}/e2e/test_jobs.py
                   ${_t}/faults/test_config_perms.py
                   ${_t}/faults/test_big_config.py
                   ${_t}/faults/test_sighup_burst.py
                   ${_t}/faults/test_statedir.py
                   ${_t}/faults/test_user_deleted.py
                   ${_t}/faults/test_nproc.py
                   ${_t}/faults/test_fuse_hang.py)
  set_tests_properties(valgrind/memcheck PROPERTIES LABELS "valgrind" TIMEOUT 1200 SKIP_RETURN_CODE 77
                       ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")
endif()
