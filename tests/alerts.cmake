# Alerting groundwork (label "alerts"): the metrics renderer checked by
# promtool, a strict OpenMetrics parser and a real node_exporter; mail
# composed and sent through a real exim4 delivering to a mailbox file in a
# temporary directory. Each test is tests/alerts/test_NAME.py, run with the
# alertstool helper (tests/alerts/alertstool.c, linked with evdcore). A test
# whose tools are missing exits 77 (skipped) and says which. Included by
# tests/CMakeLists.txt.
if(EXISTS /usr/bin/python3)
  set(EVD_ALERTS_PYTHON /usr/bin/python3)
else()
  find_program(EVD_ALERTS_PYTHON python3 REQUIRED)
endif()

add_executable(alertstool ${CMAKE_CURRENT_SOURCE_DIR}/alerts/alertstool.c)
target_link_libraries(alertstool PRIVATE evdcore)

file(GLOB EVD_ALERTS_TESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/alerts/test_*.py)
foreach(script ${EVD_ALERTS_TESTS})
  get_filename_component(name ${script} NAME_WE)
  string(REGEX REPLACE "^test_" "" name ${name})
  add_test(NAME alerts/${name} COMMAND ${EVD_ALERTS_PYTHON} ${script} $<TARGET_FILE:alertstool>)
  set_tests_properties(alerts/${name} PROPERTIES
                       LABELS "alerts" TIMEOUT 300 SKIP_RETURN_CODE 77
                       ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")
endforeach()

# evdctl history / log against the journal of a private systemd
# (tests/systemd/sdboot.py): needs root and namespaces, else skipped.
add_test(NAME alerts/history
         COMMAND ${EVD_ALERTS_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/alerts/history_systemd.py
                 $<TARGET_FILE:evd> $<TARGET_FILE:evdctl> ${CMAKE_SOURCE_DIR}/systemd/evd.service)
set_tests_properties(alerts/history PROPERTIES
                     LABELS "alerts;systemd" TIMEOUT 300 SKIP_RETURN_CODE 77
                     ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")

# evd's alert mail through the real exim4 (tests/alerts/evd_mail.py): the
# real daemon, its sendmail= pointing at the test's private exim.
add_test(NAME alerts/evd_mail
         COMMAND ${EVD_ALERTS_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/alerts/evd_mail.py $<TARGET_FILE:evd>)
if(EVD_SANITIZE)
  set(EVD_ALERTS_E2E_ENV "EVD_E2E_SLOW=1")
else()
  set(EVD_ALERTS_E2E_ENV "EVD_E2E_SLOW=0")
endif()
# Also e2e: evd's own mail path runs in every CI build, TSan's included.
set_tests_properties(alerts/evd_mail PROPERTIES
                     LABELS "alerts;e2e" TIMEOUT 300 SKIP_RETURN_CODE 77
                     ENVIRONMENT "${EVD_ALERTS_E2E_ENV};PYTHONDONTWRITEBYTECODE=1")
# The metrics of the real evd (tests/alerts/evd_metrics.py): `evdctl
# metrics` through promtool and the OpenMetrics parser, metrics_file
# through a real node_exporter, written on change only, bad paths. Labels
# alerts and e2e: the e2e label puts them in every CI build (the TSan pass
# runs unit|e2e|cluster). Need root (the evdctl harness) and the tools,
# else skipped.
foreach(t text file idle paths hangup)
  add_test(NAME alerts/metrics-${t}
           COMMAND ${EVD_ALERTS_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/alerts/evd_metrics.py
                   $<TARGET_FILE:evd> $<TARGET_FILE:evdctl> ${t})
  set_tests_properties(alerts/metrics-${t} PROPERTIES
                       LABELS "alerts;e2e" TIMEOUT 300 SKIP_RETURN_CODE 77
                       ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")
endforeach()
