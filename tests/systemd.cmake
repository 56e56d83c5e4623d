# The real-systemd tests (label "systemd"): a private systemd, booted as PID 1
# of new namespaces, runs the shipped systemd/evd.service (ExecStart= pointed
# at the evd just built). They need root and namespaces, and exit 77
# (skipped) with the reason when they cannot run. Included by
# tests/CMakeLists.txt.
if(EXISTS /usr/bin/python3)
  set(EVD_SD_PYTHON /usr/bin/python3)
else()
  find_program(EVD_SD_PYTHON python3 REQUIRED)
endif()
set(EVD_SD_DIR ${CMAKE_CURRENT_SOURCE_DIR}/systemd)

add_test(NAME systemd/service
         COMMAND ${EVD_SD_PYTHON} ${EVD_SD_DIR}/test_service.py $<TARGET_FILE:evd> $<TARGET_FILE:evdctl>
                 ${CMAKE_SOURCE_DIR}/systemd/evd.service)
set_tests_properties(systemd/service PROPERTIES
                     LABELS "systemd" TIMEOUT 300 SKIP_RETURN_CODE 77
                     ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")

# systemd's watchdog restarts an evd whose main loop stalls (needs evd's
# test hooks, -DEVD_TEST_HOOKS=ON, which .ci/test sets (the default is off);
# skipped without them).
add_test(NAME systemd/watchdog
         COMMAND ${EVD_SD_PYTHON} ${EVD_SD_DIR}/test_watchdog.py $<TARGET_FILE:evd> ${CMAKE_SOURCE_DIR}/systemd/evd.service)
set_tests_properties(systemd/watchdog PROPERTIES
                     LABELS "systemd" TIMEOUT 300 SKIP_RETURN_CODE 77
                     ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")

# The unit's hardening does not regress (systemd-analyze security --offline).
add_test(NAME systemd/security
         COMMAND ${EVD_SD_PYTHON} ${EVD_SD_DIR}/test_security.py ${CMAKE_SOURCE_DIR}/systemd/evd.service)
set_tests_properties(systemd/security PROPERTIES
                     LABELS "systemd" TIMEOUT 120 SKIP_RETURN_CODE 77)

# evd's sd_notify protocol message by message, the test playing the service
# manager (no root, no systemd needed).
add_test(NAME systemd/notify
         COMMAND ${EVD_SD_PYTHON} ${EVD_SD_DIR}/test_notify.py $<TARGET_FILE:evd>)
set_tests_properties(systemd/notify PROPERTIES
                     LABELS "systemd" TIMEOUT 120 SKIP_RETURN_CODE 77)

# The Debian package (built by the test in a Release tree of its own under
# the build tree, without test hooks or sanitizers) installs with dpkg, runs
# under `systemctl enable --now`, reloads, upgrades, and removes and purges
# cleanly, in a private systemd with overlays over /usr, /etc and /var.
add_test(NAME systemd/package
         COMMAND ${EVD_SD_PYTHON} ${EVD_SD_DIR}/test_package.py ${CMAKE_SOURCE_DIR}
                 ${CMAKE_BINARY_DIR}/package-deb)
set_tests_properties(systemd/package PROPERTIES
                     LABELS "systemd;package" TIMEOUT 1200 SKIP_RETURN_CODE 77
                     ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")

# The move from cron (issue 11): the machine's crontabs (Debian's
# /etc/crontab and the /etc/cron.d files of the packages .ci/deps installs)
# run by cron.service, then `systemctl disable --now cron` and `systemctl
# enable --now evd` with [crontabs] system=, in a private systemd with an
# overlay over /etc: every entry is an evd job with the brute-force
# reference's next run times, and the test's own entry runs once a minute,
# neither lost nor doubled across the switch.
add_test(NAME systemd/cron-move
         COMMAND ${EVD_SD_PYTHON} ${EVD_SD_DIR}/test_cron_move.py $<TARGET_FILE:evd> $<TARGET_FILE:evdctl>
                 $<TARGET_FILE:crontab_check> ${CMAKE_SOURCE_DIR}/systemd/evd.service ${CMAKE_SOURCE_DIR})
set_tests_properties(systemd/cron-move PROPERTIES
                     LABELS "systemd;crontab;slow" TIMEOUT 400 SKIP_RETURN_CODE 77
                     ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")
