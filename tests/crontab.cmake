# Crontab tests (label "crontab"; tests/crontab/):
#   crontab/import   evdctl import-crontab on the real crontabs of
#                    tests/data/crontabs and the odd corpus: evd -t accepts
#                    every output, and converted jobs run with cron's
#                    command, stdin and environment.
#   crontab/minute   a `* * * * *` entry of [crontabs] runs at the next
#                    minute boundary (slow: up to ~70 s; the quick crontab
#                    tests of the daemon are e2e/crontab).
#   crontab/cron-diff  the reader's verdicts against Debian's cron itself,
#                    file by file, in a private mount namespace (root and
#                    /usr/sbin/cron needed; skips (77) otherwise).
# Included by tests/CMakeLists.txt.
add_executable(crontab_check ${CMAKE_CURRENT_SOURCE_DIR}/crontab/crontab_check.c)
target_link_libraries(crontab_check PRIVATE evdcore)

if(EXISTS /usr/bin/python3)
  set(EVD_CRONTAB_PYTHON /usr/bin/python3)
else()
  find_program(EVD_CRONTAB_PYTHON python3 REQUIRED)
endif()

add_test(NAME crontab/import
         COMMAND ${EVD_CRONTAB_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/crontab/test_import.py
                 $<TARGET_FILE:evd> $<TARGET_FILE:evdctl> ${CMAKE_CURRENT_SOURCE_DIR})
add_test(NAME crontab/cron-diff
         COMMAND ${EVD_CRONTAB_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/crontab/test_cron_diff.py
                 $<TARGET_FILE:crontab_check> ${CMAKE_CURRENT_SOURCE_DIR})
add_test(NAME crontab/minute
         COMMAND ${EVD_CRONTAB_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/crontab/test_minute.py $<TARGET_FILE:evd>)
set_tests_properties(crontab/import PROPERTIES
                     LABELS "crontab" TIMEOUT 300 SKIP_RETURN_CODE 77
                     ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")
# These two wait for real minutes (cron itself, a minute boundary): slow.
set_tests_properties(crontab/cron-diff crontab/minute PROPERTIES
                     LABELS "crontab;slow" TIMEOUT 300 SKIP_RETURN_CODE 77
                     ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")
