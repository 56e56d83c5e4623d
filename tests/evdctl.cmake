# End-to-end tests of evdctl and evd's control socket (label "e2e"): the
# real evd on a private socket and state directory, evdctl against it.
# They need root (the socket is root's; one test switches to nobody) and
# skip (77) otherwise. One ctest test per scenario, so they run in parallel;
# "abuse" checks that a one-second job keeps its schedule, so it runs alone.
if(EXISTS /usr/bin/python3)
  set(EVD_CTL_PYTHON /usr/bin/python3)
else()
  find_program(EVD_CTL_PYTHON python3 REQUIRED)
endif()

foreach(t commands access abuse reload pause-restart overlap single-instance next protocol completion)
  add_test(NAME evdctl/${t}
           COMMAND ${EVD_CTL_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/evdctl/test_evdctl.py
                   $<TARGET_FILE:evd> $<TARGET_FILE:evdctl> ${t})
  set_tests_properties(evdctl/${t} PROPERTIES LABELS "e2e" TIMEOUT 900 SKIP_RETURN_CODE 77)
endforeach()
set_tests_properties(evdctl/abuse PROPERTIES RUN_SERIAL TRUE)

# The control socket's rules (test_socket.py): its directory and group,
# access with many groups, per-user limits, UTF-8 JSON, deadlines.
foreach(t utf8 long-schedule status-bounded connect-timeout reload-deferred socket-directory reload-group
          many-groups user-limit)
  add_test(NAME evdctl/socket-${t}
           COMMAND ${EVD_CTL_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/evdctl/test_socket.py
                   $<TARGET_FILE:evd> $<TARGET_FILE:evdctl> ${t})
  set_tests_properties(evdctl/socket-${t} PROPERTIES LABELS "e2e" TIMEOUT 900 SKIP_RETURN_CODE 77)
endforeach()
