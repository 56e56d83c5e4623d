# Differential tests of calendar and cron expressions (label "calendar"):
# evdctl calendar --json against systemd-analyze calendar, and cron against
# a brute-force reference. Included by tests/CMakeLists.txt.
if(EXISTS /usr/bin/python3)
  set(EVD_CAL_PYTHON /usr/bin/python3)
else()
  find_program(EVD_CAL_PYTHON python3 REQUIRED)
endif()

add_test(NAME calendar/systemd-diff
         COMMAND ${EVD_CAL_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/calendar/diff_calendar.py $<TARGET_FILE:evdctl>)
add_test(NAME calendar/cron-diff
         COMMAND ${EVD_CAL_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/calendar/diff_cron.py $<TARGET_FILE:evdctl>)
add_test(NAME calendar/evdctl-cli
         COMMAND ${EVD_CAL_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/calendar/cli_evdctl.py $<TARGET_FILE:evdctl>)
set_tests_properties(calendar/systemd-diff calendar/cron-diff calendar/evdctl-cli PROPERTIES
                     LABELS "calendar" TIMEOUT 300 SKIP_RETURN_CODE 77)
