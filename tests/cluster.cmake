# Cluster tests (label "cluster"; tests/cluster/): the etcd client
# (src/etcd.c) against a real three-member etcd started on loopback ports
# by tests/cluster/etcdlib.py (Debian's etcd-server; skips (77) without
# it). Only in builds with the etcd client (libcurl and json-c found).
#   cluster/etcd      claims exactly once under contention, lease expiry,
#                     leader failover, unreachable and stopped members,
#                     bad endpoints.
#   cluster/evd       cluster = once in evd (one and two nodes): one claim
#                     per instant, records, evdctl cluster, list/status,
#                     cluster_unreachable, fencing (node or etcd frozen),
#                     a node name used twice.
# Included by tests/CMakeLists.txt.
if(EVD_HAVE_ETCD)
  add_executable(etcd_driver ${CMAKE_CURRENT_SOURCE_DIR}/cluster/etcd_driver.c)
  target_link_libraries(etcd_driver PRIVATE evdcore)
  if(EXISTS /usr/bin/python3)
    set(EVD_CLUSTER_PYTHON /usr/bin/python3)
  else()
    find_program(EVD_CLUSTER_PYTHON python3 REQUIRED)
  endif()
  add_test(NAME cluster/etcd
           COMMAND ${EVD_CLUSTER_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/cluster/test_etcd.py
                   $<TARGET_FILE:etcd_driver>)
  set_tests_properties(cluster/etcd PROPERTIES
                       LABELS "cluster" TIMEOUT 300 SKIP_RETURN_CODE 77 COST 50
                       ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")
  add_test(NAME cluster/evd
           COMMAND ${EVD_CLUSTER_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/cluster/test_evd_cluster.py $<TARGET_FILE:evd>)
  set_tests_properties(cluster/evd PROPERTIES
                       LABELS "cluster" TIMEOUT 600 SKIP_RETURN_CODE 77 COST 80
                       ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1;EVD_TEST_HOOKS=1")
endif()
